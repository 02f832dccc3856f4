"""Following topics the way a gateway or an auditor would: a consumer group of its own."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from baton_contracts import DecodeError, Event, decode


@dataclass(frozen=True)
class Seen:
    """One record as the watcher got it."""

    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    event: Event | None
    """The decoded event; None when the value is not one (a dead letter's poison, say)."""
    appended_at: float = 0.0
    """The record's Kafka timestamp, in seconds."""
    seen_at: float = 0.0
    """When the watcher got it (wall clock, seconds): when a gateway could have shown it."""


@asynccontextmanager
async def follow_topics(
    bootstrap: str,
    topics: Sequence[str],
    on_record: Callable[[Seen], None],
    *,
    from_start: bool = True,
    group: str = "watch",
    ready_timeout: float = 60.0,
) -> AsyncIterator[None]:
    """Hand every record of ``topics`` (full names) to ``on_record`` while the block runs.

    From the start of each topic, or (``from_start`` False) only what is appended once the
    block begins: the block then begins only when the watcher's group has its partitions and
    knows where they end, so nothing appended in the block is missed.
    """
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=f"{group}-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest" if from_start else "latest",
        enable_auto_commit=False,
        # Topics created after the watcher starts are picked up within a second.
        metadata_max_age_ms=1000,
    )
    await consumer.start()

    async def pump() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for records in batch.values():
                for record in records:
                    try:
                        event: Event | None = decode(record.value)
                    except DecodeError:
                        event = None
                    headers = {k: v.decode() for k, v in (record.headers or ())}
                    on_record(
                        Seen(
                            record.topic,
                            record.key,
                            record.value,
                            headers,
                            event,
                            record.timestamp / 1000,
                            now,
                        )
                    )

    task: asyncio.Task[None] | None = None
    try:
        if not from_start:
            await _positioned(consumer, ready_timeout)
        task = asyncio.create_task(pump())
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await consumer.stop()


async def _positioned(consumer: AIOKafkaConsumer, timeout: float) -> None:
    """Wait until the group has assigned partitions, then fix each one's position at its
    end, as it is now."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not consumer.assignment():
        if loop.time() > deadline:
            raise TimeoutError(f"the watcher's group got no partitions within {timeout:.0f} s")
        # The group joins in the background, from the consumer's start.
        await asyncio.sleep(0.1)
    for partition in consumer.assignment():
        await consumer.position(partition)
