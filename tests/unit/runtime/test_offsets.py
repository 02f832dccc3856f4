"""Finished offsets are committed together, only for partitions still owned, and never lost
to a failed commit that can be retried; a revocation waits for the batch in progress."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import cast

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaConnectionError

from baton_runtime.offsets import FinishedOffsets

P0, P1, P2 = (TopicPartition("t", n) for n in range(3))


@dataclass(frozen=True)
class At:
    topic: str
    partition: int
    offset: int


def at(partition: TopicPartition, *offsets: int) -> list[At]:
    return [At(partition.topic, partition.partition, o) for o in offsets]


@dataclass
class FakeConsumer:
    owned: set[TopicPartition] = field(default_factory=lambda: {P0, P1, P2})
    commits: list[dict[TopicPartition, int]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return set(self.owned)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.commits.append(dict(offsets))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def offsets_with(interval: float = 0.2) -> tuple[FinishedOffsets, Clock]:
    clock = Clock()
    return FinishedOffsets(interval, clock=clock), clock


def as_consumer(consumer: FakeConsumer) -> AIOKafkaConsumer:
    return cast(AIOKafkaConsumer, consumer)


async def test_finished_batches_are_committed_together_once_the_interval_is_over() -> None:
    consumer = FakeConsumer()
    offsets, clock = offsets_with()

    offsets.finish(as_consumer(consumer), at(P0, 4, 5))
    clock.now += 0.1
    offsets.finish(as_consumer(consumer), [*at(P0, 6), *at(P1, 9)])
    assert not offsets.due

    clock.now += 0.15
    assert offsets.due
    await offsets.commit()

    # The next offset to read, per partition: one commit for both batches.
    assert consumer.commits == [{P0: 7, P1: 10}]
    assert not offsets.due


async def test_the_interval_restarts_at_each_commit() -> None:
    consumer = FakeConsumer()
    offsets, clock = offsets_with()
    clock.now += 1
    offsets.finish(as_consumer(consumer), at(P0, 1))
    await offsets.commit()

    offsets.finish(as_consumer(consumer), at(P0, 2))

    assert not offsets.due
    clock.now += 0.2
    assert offsets.due


async def test_with_no_interval_every_batch_is_due() -> None:
    consumer = FakeConsumer()
    offsets, _ = offsets_with(interval=0)

    offsets.finish(as_consumer(consumer), at(P2, 0))

    assert offsets.due


async def test_nothing_finished_commits_nothing() -> None:
    consumer = FakeConsumer()
    offsets, clock = offsets_with()
    clock.now += 10

    assert not offsets.due
    await offsets.commit()

    assert consumer.commits == []


async def test_a_partition_the_consumer_lost_is_not_committed_and_forgotten() -> None:
    consumer = FakeConsumer()
    offsets, _ = offsets_with()
    offsets.finish(as_consumer(consumer), [*at(P0, 3), *at(P1, 8)])
    consumer.owned = {P1}

    await offsets.commit()
    consumer.owned = {P0, P1}
    await offsets.commit()

    assert consumer.commits == [{P1: 9}]


async def test_revoked_partitions_are_committed_before_they_go() -> None:
    consumer = FakeConsumer()
    offsets, clock = offsets_with()
    offsets.finish(as_consumer(consumer), [*at(P0, 3), *at(P1, 8)])

    await offsets.on_partitions_revoked({P0})

    assert consumer.commits == [{P0: 4}]
    clock.now += 1
    await offsets.commit()
    assert consumer.commits == [{P0: 4}, {P1: 9}]


async def test_an_assignment_drops_what_a_batch_noted_for_partitions_gone_elsewhere() -> None:
    consumer = FakeConsumer()
    offsets, _ = offsets_with()
    offsets.finish(as_consumer(consumer), [*at(P0, 3), *at(P2, 5)])

    await offsets.on_partitions_assigned({P2})
    await offsets.commit()

    assert consumer.commits == [{P2: 6}]


async def test_a_commit_refused_after_a_rebalance_is_dropped() -> None:
    consumer = FakeConsumer(failures=[CommitFailedError("rebalanced")])
    offsets, _ = offsets_with()
    offsets.finish(as_consumer(consumer), at(P0, 3))

    await offsets.commit()
    await offsets.commit()

    assert consumer.commits == []


async def test_a_failed_commit_is_retried_with_what_finished_meanwhile() -> None:
    consumer = FakeConsumer(failures=[KafkaConnectionError("broker gone")])
    offsets, clock = offsets_with()
    offsets.finish(as_consumer(consumer), [*at(P0, 3), *at(P1, 1)])

    await offsets.commit()
    offsets.finish(as_consumer(consumer), at(P0, 4))
    clock.now += 0.2
    assert offsets.due
    await offsets.commit()

    assert consumer.commits == [{P0: 5, P1: 2}]


def test_it_is_the_consumer_s_rebalance_listener() -> None:
    assert isinstance(FinishedOffsets(0.2), ConsumerRebalanceListener)


async def test_a_revocation_waits_for_the_batch_in_progress_and_commits_it_too() -> None:
    consumer = FakeConsumer()
    offsets, _ = offsets_with()
    offsets.finish(as_consumer(consumer), at(P1, 8))
    offsets.begin()

    revocation = asyncio.create_task(offsets.on_partitions_revoked({P0, P1}))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not revocation.done()
    assert consumer.commits == []

    offsets.finish(as_consumer(consumer), at(P0, 3, 4))
    offsets.end()
    await asyncio.wait_for(revocation, 5)

    assert consumer.commits == [{P0: 5, P1: 9}]


async def test_a_batch_that_outlasts_the_grace_is_left_to_the_next_owner(
    caplog: pytest.LogCaptureFixture,
) -> None:
    consumer = FakeConsumer()
    offsets = FinishedOffsets(0.2, grace=0.01)
    offsets.finish(as_consumer(consumer), at(P1, 8))
    offsets.begin()

    await asyncio.wait_for(offsets.on_partitions_revoked({P0, P1}), 5)

    assert consumer.commits == [{P1: 9}]
    assert "still in progress" in caplog.text


async def test_with_no_batch_in_progress_a_revocation_commits_at_once() -> None:
    consumer = FakeConsumer()
    offsets = FinishedOffsets(0.2, grace=3600)
    offsets.begin()
    offsets.finish(as_consumer(consumer), at(P0, 1))
    offsets.end()

    await asyncio.wait_for(offsets.on_partitions_revoked({P0}), 5)

    assert consumer.commits == [{P0: 2}]
