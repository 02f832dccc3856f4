"""In-memory stand-ins for the runner's publisher, dead letters, and Kafka consumer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition

from baton_contracts import Event
from baton_runtime import Record


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


class MemoryConsumer:
    """aiokafka's consumer as Baton's KeyedConsumer uses it, in memory: records are put on
    partitions with :meth:`put`, a rebalance is played with :meth:`rebalance`, and commits
    and pauses are recorded."""

    def __init__(self, partitions: Iterable[TopicPartition]) -> None:
        self._assigned = set(partitions)
        self._positions: dict[TopicPartition, int] = {p: 0 for p in self._assigned}
        self._logs: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {
            p: [] for p in self._assigned
        }
        self._paused: set[TopicPartition] = set()
        self._arrived = asyncio.Event()
        self._listener: Any = None
        self.commits: list[dict[TopicPartition, int]] = []
        self.committed: dict[TopicPartition, int] = {}
        self.stopped = False

    def subscribe(self, topics: list[str], *, listener: Any) -> None:
        self._listener = listener

    async def start(self) -> None:
        await self._listener.on_partitions_assigned(set(self._assigned))

    async def stop(self) -> None:
        self.stopped = True

    def put(self, partition: TopicPartition, key: bytes, value: bytes = b"{}") -> int:
        log = self._logs.setdefault(partition, [])
        offset = len(log)
        log.append(
            ConsumerRecord(
                partition.topic, partition.partition, offset, 0, 0, key, value, None, 0, 0, []
            )
        )
        self._arrived.set()
        return offset

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        for _ in range(2):
            taken: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
            room = max_records
            for partition in sorted(self._assigned - self._paused):
                log = self._logs.get(partition, [])
                records = log[self._positions[partition] :][:room]
                if records:
                    taken[partition] = records
                    self._positions[partition] += len(records)
                    room -= len(records)
            if taken:
                return taken
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout_ms / 1000)
        return {}

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def pause(self, *partitions: TopicPartition) -> None:
        self._paused |= set(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self._paused -= set(partitions)
        self._arrived.set()

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))
        self.committed.update(offsets)

    def highwater(self, partition: TopicPartition) -> int:
        return len(self._logs.get(partition, []))

    async def position(self, partition: TopicPartition) -> int:
        return self._positions[partition]

    def taken(self, partition: TopicPartition) -> int:
        """How many of the partition's records the consumer has taken so far."""
        return self._positions[partition]

    async def rebalance(self, assignment: Iterable[TopicPartition]) -> None:
        """Revoke every partition (aiokafka's eager protocol), then assign ``assignment``,
        each starting at its committed offset."""
        await self._listener.on_partitions_revoked(set(self._assigned))
        self._assigned = set(assignment)
        self._paused.clear()
        self._positions = {p: self.committed.get(p, 0) for p in self._assigned}
        await self._listener.on_partitions_assigned(set(self._assigned))
        self._arrived.set()
