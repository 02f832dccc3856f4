"""In-memory stand-ins for the runner's publisher and dead letters."""

from __future__ import annotations

from collections.abc import Iterable

from baton_contracts import Event
from baton_runtime.consumer import Record


class MemoryPublisher:
    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, events: Iterable[Event]) -> None:
        self.published += events


class DeadPublisher:
    """A publisher whose process dies before the publish."""

    async def publish(self, events: Iterable[Event]) -> None:
        raise ConnectionError("the process died before publishing")


class MemoryDeadLetters:
    def __init__(self) -> None:
        self.letters: list[tuple[Record, str]] = []

    async def send(self, record: Record, *, code: str, reason: str) -> None:
        self.letters.append((record, code))
