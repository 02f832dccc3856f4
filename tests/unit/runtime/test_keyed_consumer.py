"""The key-ordered consumer against an in-memory Kafka consumer: what it takes, pauses,
commits and gives up, with records finishing out of order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import TopicPartition

from baton_runtime import KafkaSettings, KeyedConsumer, Record
from tests.support.memory import MemoryConsumer
from tests.support.waiting import until as eventually

P0 = TopicPartition("t", 0)
P1 = TopicPartition("t", 1)


def consumer_of(
    memory: MemoryConsumer,
    process: Callable[[Record], Awaitable[None]],
    *,
    window: int = 100,
    grace: float = 5.0,
) -> KeyedConsumer:
    settings = KafkaSettings(
        commit_interval_ms=0, consumer_max_in_flight=window, consumer_poll_ms=20
    )
    return KeyedConsumer(
        settings,
        topic="t",
        group="g",
        process=process,
        service="test",
        grace=grace,
        client=lambda: memory,
    )


class Gates:
    """Records whose work waits until its key is released."""

    def __init__(self, *held: bytes) -> None:
        self.gates = {key: asyncio.Event() for key in held}
        self.done: list[tuple[bytes | None, int]] = []

    async def process(self, record: Record) -> None:
        gate = self.gates.get(record.key or b"")
        if gate is not None:
            await gate.wait()
        self.done.append((record.key, record.offset))

    def release(self, key: bytes) -> None:
        self.gates[key].set()


async def test_a_slow_thread_holds_up_neither_other_threads_nor_their_commits_beyond_it() -> None:
    memory = MemoryConsumer([P0])
    gates = Gates(b"slow")
    consumer = consumer_of(memory, gates.process)
    await consumer.start()
    memory.put(P0, b"fast-1")  # 0
    memory.put(P0, b"slow")  # 1
    memory.put(P0, b"fast-2")  # 2
    memory.put(P0, b"slow")  # 3
    memory.put(P0, b"fast-3")  # 4
    await eventually(lambda: len(gates.done) == 3)
    assert gates.done == [(b"fast-1", 0), (b"fast-2", 2), (b"fast-3", 4)]
    # Committed up to the slow record, not past it: a crash now would redo 1..4.
    await eventually(lambda: memory.committed.get(P0) == 1)
    gates.release(b"slow")
    await eventually(lambda: memory.committed.get(P0) == 5)
    assert [offset for key, offset in gates.done if key == b"slow"] == [1, 3]
    await consumer.stop()
    assert memory.stopped


async def test_a_full_window_pauses_the_partitions_until_a_record_finishes() -> None:
    memory = MemoryConsumer([P0, P1])
    gates = Gates(b"a", b"b", b"c")
    consumer = consumer_of(memory, gates.process, window=2)
    await consumer.start()
    memory.put(P0, b"a")
    memory.put(P0, b"c")
    await eventually(lambda: consumer.in_flight == 2)
    memory.put(P1, b"b")
    assert memory.paused() == {P0, P1}
    await asyncio.sleep(0.1)
    assert memory.taken(P1) == 0  # the third record waits in Kafka
    gates.release(b"a")
    # Room again: the partitions resume and the third record is taken, which fills the
    # window and pauses them once more.
    await eventually(lambda: memory.taken(P1) == 1)
    assert consumer.in_flight == 2
    assert memory.paused() == {P0, P1}
    gates.release(b"b")
    gates.release(b"c")
    await eventually(lambda: consumer.in_flight == 0)
    await consumer.stop()


async def test_revocation_waits_for_records_in_progress_and_abandons_what_outlasts_it() -> None:
    memory = MemoryConsumer([P0, P1])
    gates = Gates(b"finishes-late", b"never")
    consumer = consumer_of(memory, gates.process, grace=0.3)
    await consumer.start()
    memory.put(P0, b"done")  # 0
    memory.put(P0, b"finishes-late")  # 1
    memory.put(P0, b"never")  # 2
    memory.put(P0, b"done-later")  # 3
    memory.put(P1, b"other")  # P1: 0
    await eventually(lambda: consumer.in_flight == 2)

    async def finish_soon() -> None:
        await asyncio.sleep(0.05)
        gates.release(b"finishes-late")

    finishing = asyncio.create_task(finish_soon())
    await memory.rebalance([P1])  # P0 goes elsewhere
    await finishing
    # The record that finished within the grace counts; the one still running was cancelled
    # and stays uncommitted, so P0's next owner starts at it.
    assert (b"finishes-late", 1) in gates.done
    assert (b"never", 2) not in gates.done
    assert memory.committed[P0] == 2
    assert memory.committed[P1] == 1

    # The partition comes back: the abandoned record is delivered again, and finished.
    gates.release(b"never")
    await memory.rebalance([P0, P1])
    await eventually(lambda: memory.committed.get(P0) == 4)
    assert (b"never", 2) in gates.done
    assert [offset for key, offset in gates.done if key == b"done-later"] == [3, 3]
    await consumer.stop()


async def test_stopping_lets_records_in_progress_finish_and_commits_them() -> None:
    memory = MemoryConsumer([P0])
    gates = Gates(b"slow")
    consumer = consumer_of(memory, gates.process)
    await consumer.start()
    memory.put(P0, b"slow")
    await eventually(lambda: consumer.in_flight == 1)
    loop = asyncio.get_running_loop()
    loop.call_later(0.05, gates.release, b"slow")
    await consumer.stop()
    assert gates.done == [(b"slow", 0)]
    assert memory.committed[P0] == 1


async def test_lag_counts_the_records_not_yet_taken() -> None:
    from prometheus_client import REGISTRY

    memory = MemoryConsumer([P0, P1])
    gates = Gates(b"held")
    consumer = consumer_of(memory, gates.process, window=1)
    await consumer.start()
    for key in (b"held", b"x", b"y"):
        memory.put(P0, key)
    memory.put(P1, b"z")
    await eventually(lambda: consumer.in_flight == 1)
    await consumer.measure_lag()
    lag = REGISTRY.get_sample_value("baton_consumer_lag", {"group": "g", "topic": "t"})
    assert lag == 3  # one taken (and held), three waiting in Kafka
    gates.release(b"held")
    await eventually(lambda: consumer.in_flight == 0 and memory.taken(P1) == 1)
    await consumer.stop()


async def test_the_partitions_gauge_follows_the_assignment() -> None:
    from prometheus_client import REGISTRY

    def held() -> float | None:
        return REGISTRY.get_sample_value("baton_consumer_partitions", {"group": "g", "topic": "t"})

    memory = MemoryConsumer([P0, P1])
    consumer = consumer_of(memory, Gates().process)
    assert held() == 0  # not joined yet
    await consumer.start()
    assert held() == 2
    await memory.rebalance([P1])  # another instance took P0
    assert held() == 1
    await consumer.stop()
    assert held() == 0
