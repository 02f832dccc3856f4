"""Records topics for tests to wait on, from a consumer group of its own (see
:func:`baton_testkit.follow_topics`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from baton_contracts import Event
from baton_runtime import KafkaSettings
from baton_testkit import Seen, follow_topics

from .waiting import eventually

E = TypeVar("E", bound=Event)


def in_thread(thread_id: str) -> Callable[[Event], bool]:
    """A ``where`` for events of one thread."""
    return lambda event: event.thread_id == thread_id


@dataclass
class Recorder:
    settings: KafkaSettings
    records: list[Seen] = field(default_factory=list)

    def events(self, event_type: type[E], where: Callable[[E], bool] = lambda _: True) -> list[E]:
        return [s.event for s in self.records if isinstance(s.event, event_type) and where(s.event)]

    async def wait_for(
        self,
        event_type: type[E],
        where: Callable[[E], bool] = lambda _: True,
        *,
        count: int = 1,
        timeout: float = 30.0,
    ) -> list[E]:
        async def probe() -> list[E] | None:
            found = self.events(event_type, where)
            return found if len(found) >= count else None

        name = event_type.model_fields["type"].default
        return await eventually(probe, timeout=timeout, what=f"{count} x {name}")

    async def wait_for_raw(
        self,
        topic: str,
        where: Callable[[Seen], bool] = lambda _: True,
        *,
        count: int = 1,
        timeout: float = 30.0,
    ) -> list[Seen]:
        """The records on ``topic`` (as consumed, decodable or not) that ``where`` accepts,
        once there are at least ``count`` of them."""
        full = self.settings.topic(topic)

        async def probe() -> list[Seen] | None:
            found = [s for s in self.records if s.topic == full and where(s)]
            return found if len(found) >= count else None

        return await eventually(probe, timeout=timeout, what=f"{count} record(s) on {full}")


@asynccontextmanager
async def record_topics(settings: KafkaSettings, *topics: str) -> AsyncIterator[Recorder]:
    """Record every record on ``topics`` (base names) from the start, while the block runs."""
    recorder = Recorder(settings)
    async with follow_topics(
        settings.bootstrap_servers,
        [settings.topic(t) for t in topics],
        recorder.records.append,
        group="recorder",
    ):
        yield recorder
