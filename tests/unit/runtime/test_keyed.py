"""Key-ordered work: one thread's records in order, different threads at the same time."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from baton_runtime import Record
from baton_runtime._keyed import KeyedWork
from tests.support.waiting import until


def record(key: bytes, offset: int, partition: int = 0) -> Record:
    return Record("t", partition, offset, key, b"")


async def test_a_slow_record_holds_up_only_its_own_key() -> None:
    release = asyncio.Event()
    order: list[tuple[bytes | None, int]] = []
    finished: list[int] = []

    async def work(r: Record) -> None:
        if r.offset == 0:
            await release.wait()
        order.append((r.key, r.offset))

    keyed = KeyedWork(work, finished=lambda r: finished.append(r.offset))
    keyed.submit(record(b"slow", 0))
    keyed.submit(record(b"slow", 1))
    keyed.submit(record(b"fast", 2))
    keyed.submit(record(b"fast", 3))
    await until(lambda: len(order) == 2)
    # The other thread ran to the end; the slow thread's second record waits for its first.
    assert order == [(b"fast", 2), (b"fast", 3)]
    assert (keyed.running, keyed.queued) == (1, 1)
    release.set()
    await until(lambda: keyed.running == 0)
    assert order[2:] == [(b"slow", 0), (b"slow", 1)]
    assert sorted(finished) == [0, 1, 2, 3]


async def test_work_that_raises_is_tried_again_and_never_skipped(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("baton_runtime._keyed.RETRY_AFTER_ESCAPE_S", 0)
    attempts = 0
    finished: list[int] = []

    async def work(r: Record) -> None:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise RuntimeError("a bug")

    keyed = KeyedWork(work, finished=lambda r: finished.append(r.offset))
    keyed.submit(record(b"k", 0))
    await until(lambda: bool(finished))
    assert attempts == 3


async def test_settling_waits_for_records_in_progress_then_cancels_the_rest() -> None:
    quick_done = asyncio.Event()
    finished: list[int] = []

    async def work(r: Record) -> None:
        if r.key == b"stuck":
            await asyncio.Event().wait()
        await asyncio.sleep(0.01)
        quick_done.set()

    keyed = KeyedWork(work, finished=lambda r: finished.append(r.offset))
    keyed.submit(record(b"quick", 0))
    keyed.submit(record(b"stuck", 1))
    keyed.submit(record(b"stuck", 2))  # queued behind 1: dropped at once
    keyed.submit(record(b"other-partition", 3, partition=1))
    abandoned = await keyed.settle({TopicPartition("t", 0)}, grace=0.2)
    assert abandoned == 2
    assert quick_done.is_set()
    assert 0 in finished
    assert not {1, 2} & set(finished)
    # The other partition's work was neither waited for nor cancelled.
    await until(lambda: 3 in finished)
    assert keyed.running == 0
