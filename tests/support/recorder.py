"""Watches topics the way a gateway or an auditor would: a separate consumer group."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from aiokafka import AIOKafkaConsumer

from baton_contracts import DecodeError, Event, decode
from baton_runtime.settings import KafkaSettings

from .waiting import eventually

E = TypeVar("E", bound=Event)


@dataclass
class Seen:
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    event: Event | None


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
    consumer = AIOKafkaConsumer(
        *(settings.topic(t) for t in topics),
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"recorder-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        metadata_max_age_ms=1000,
    )
    await consumer.start()

    async def pump() -> None:
        async for msg in consumer:
            try:
                event: Event | None = decode(msg.value)
            except DecodeError:
                event = None
            headers = {k: v.decode() for k, v in (msg.headers or ())}
            recorder.records.append(Seen(msg.topic, msg.key, msg.value, headers, event))

    task = asyncio.create_task(pump())
    try:
        yield recorder
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()
