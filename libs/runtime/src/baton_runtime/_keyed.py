"""Key-ordered work: the records of one key (one thread) one after the other, in the order
they were taken; the records of different keys at the same time.

Each key with work has one task that works through the key's queue. A slow record holds up
only the later records of its own key, never another key's.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Collection

from aiokafka import TopicPartition

from ._records import Record

log = logging.getLogger(__name__)

Key = tuple[str, int, bytes | None]
"""A record's topic, partition and Kafka key: records without a key are ordered by their
partition, like Kafka itself."""

RETRY_AFTER_ESCAPE_S = 1.0
"""Pause before a record whose work raised unexpectedly is tried again."""


def key_of(record: Record) -> Key:
    return (record.topic, record.partition, record.key)


class KeyedWork:
    """Runs ``work`` on submitted records, key-ordered, and tells ``finished`` of each record
    once its work is done. Work that raises is tried again: a record is never skipped."""

    def __init__(
        self,
        work: Callable[[Record], Awaitable[None]],
        *,
        finished: Callable[[Record], None],
        name: str = "keyed",
    ) -> None:
        self._work = work
        self._finished = finished
        self._name = name
        self._queues: dict[Key, deque[Record]] = {}
        self._tasks: dict[Key, asyncio.Task[None]] = {}

    def submit(self, record: Record) -> None:
        key = key_of(record)
        queue = self._queues.setdefault(key, deque())
        queue.append(record)
        if key not in self._tasks:
            self._tasks[key] = asyncio.create_task(
                self._drain(key, queue), name=f"{self._name}:{record.topic}[{record.partition}]"
            )

    @property
    def running(self) -> int:
        """Records being worked on: one per key with work."""
        return len(self._tasks)

    @property
    def queued(self) -> int:
        """Records waiting for an earlier record of their key."""
        return sum(len(queue) for queue in self._queues.values()) - len(self._tasks)

    async def settle(self, partitions: Collection[TopicPartition] | None, *, grace: float) -> int:
        """Let the records in progress of ``partitions`` (all by default) finish, for up to
        ``grace`` seconds, then cancel those still running. Records waiting behind them are
        dropped at once. Returns how many records were abandoned unfinished."""
        keys = [
            key
            for key in self._tasks
            if partitions is None or TopicPartition(key[0], key[1]) in partitions
        ]
        abandoned = 0
        for key in keys:
            queue = self._queues.get(key)
            while queue is not None and len(queue) > 1:
                queue.pop()
                abandoned += 1
        tasks = [self._tasks[key] for key in keys if key in self._tasks]
        if not tasks:
            return abandoned
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return abandoned + len(pending)

    async def _drain(self, key: Key, queue: deque[Record]) -> None:
        try:
            while queue:
                record = queue[0]
                try:
                    await self._work(record)
                except Exception:
                    log.exception(
                        "work on %s[%d]@%d escaped; trying again",
                        record.topic,
                        record.partition,
                        record.offset,
                    )
                    await asyncio.sleep(RETRY_AFTER_ESCAPE_S)
                    continue
                queue.popleft()
                self._finished(record)
        finally:
            # Done, or cancelled: whatever is still queued is left unfinished, for whoever
            # consumes the partition next.
            if self._tasks.get(key) is asyncio.current_task():
                del self._tasks[key]
            if self._queues.get(key) is queue:
                del self._queues[key]
