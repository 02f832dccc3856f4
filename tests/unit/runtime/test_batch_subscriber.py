"""Batch subscribers: how many a subscription has, that they wait for records in the poll
itself with no pause after an empty one, and how a batch's offsets are committed or
rewound."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import anyio
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from baton_contracts import MessageReceived
from baton_runtime.consumer import EventRunner, Record, _consumer_of, subscribe
from baton_runtime.kafka import ServiceBatchSubscriber, adopt, build_broker
from baton_runtime.offsets import BATCH_GRACE_SECONDS, FinishedOffsets
from baton_runtime.settings import KafkaSettings

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


class FakeConsumer:
    def __init__(self, batches: dict[TopicPartition, list[str]] | None = None) -> None:
        self.batches = batches or {}
        self.polls: list[dict[str, Any]] = []
        self.owned = {P0, P1}
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.stopped_after_commits: int | None = None

    async def getmany(self, **options: Any) -> dict[TopicPartition, list[str]]:
        self.polls.append(options)
        return self.batches

    def assignment(self) -> set[TopicPartition]:
        return set(self.owned)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))

    async def stop(self) -> None:
        self.stopped_after_commits = len(self.commits)


async def no_handler(event: MessageReceived) -> list[Any]:
    return []


class NoRunner:
    def watch(self, topic: str) -> None:
        pass


def subscribed(settings: KafkaSettings, **options: Any) -> list[Any]:
    broker = build_broker(settings, client_id="test")
    subscribe(
        broker,
        settings,
        topic="message.received",
        group="router",
        event_type=MessageReceived,
        handler=no_handler,
        runner=cast(EventRunner, NoRunner()),
        **options,
    )
    return list(broker.subscribers)


@pytest.fixture
def subscribers() -> list[Any]:
    settings = KafkaSettings(consumer_workers=2, consumer_poll_ms=700, consumer_batch_max=50)
    return subscribed(settings)


def test_a_service_chooses_its_consumers_unless_the_setting_does() -> None:
    assert len(subscribed(KafkaSettings())) == 1
    assert len(subscribed(KafkaSettings(), workers=3)) == 3
    assert len(subscribed(KafkaSettings(consumer_workers=2), workers=3)) == 2


def test_every_consumer_of_a_subscription_is_baton_s_own(subscribers: list[Any]) -> None:
    assert len(subscribers) == 2
    assert all(type(s) is ServiceBatchSubscriber for s in subscribers)
    # Each with offsets of its own, which also listen to its rebalances.
    assert subscribers[0].offsets is not subscribers[1].offsets
    assert all(s._listener is s.offsets for s in subscribers)


def test_a_group_waits_in_a_rebalance_longer_than_a_member_for_its_batch(
    subscribers: list[Any],
) -> None:
    for subscriber in subscribers:
        # The consumer's arguments, as FastStream keeps them until it starts the consumer.
        timeout_ms = subscriber._connection_args["rebalance_timeout_ms"]
        assert timeout_ms > BATCH_GRACE_SECONDS * 1000


async def test_an_empty_poll_returns_without_a_pause(
    subscribers: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_sleeping(seconds: float) -> None:
        raise AssertionError(f"slept {seconds} s after an empty poll")

    monkeypatch.setattr(anyio, "sleep", no_sleeping)
    consumer = FakeConsumer({})

    got = await subscribers[0].get_msg(cast(AIOKafkaConsumer, consumer))

    assert got == ()
    assert consumer.polls == [{"timeout_ms": 700, "max_records": 50}]


async def test_a_poll_hands_over_every_partition_s_records(subscribers: list[Any]) -> None:
    consumer = FakeConsumer({P0: ["a", "b"], P1: ["c"]})

    got = await subscribers[0].get_msg(cast(AIOKafkaConsumer, consumer))

    assert got == ("a", "b", "c")


def test_only_faststream_s_own_batch_subscriber_is_changed() -> None:
    with pytest.raises(TypeError, match="BatchSubscriber"):
        adopt(cast(Any, object()), FinishedOffsets(0.2))


def record(partition: TopicPartition, offset: int) -> Record:
    return Record(
        topic=partition.topic, partition=partition.partition, offset=offset, key=None, value=b""
    )


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def running(commit_interval_ms: int) -> tuple[ServiceBatchSubscriber, FakeConsumer]:
    """A subscription's subscriber as if started, with a fake consumer."""
    subscriber = cast(
        ServiceBatchSubscriber,
        subscribed(KafkaSettings(commit_interval_ms=commit_interval_ms))[0],
    )
    consumer = FakeConsumer()
    subscriber.consumer = cast(AIOKafkaConsumer, consumer)
    subscriber.running = True
    return subscriber, consumer


class Runner:
    """Stands in for the EventRunner: the batch works, or its infrastructure is down."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    async def run_batch(self, *args: Any) -> None:
        if self.error is not None:
            raise self.error


def consume_with(subscriber: ServiceBatchSubscriber, runner: Runner) -> Any:
    return _consumer_of(subscriber, cast(EventRunner, runner), MessageReceived, no_handler, None)


async def test_finished_batches_are_committed_at_a_poll_once_the_interval_is_over() -> None:
    subscriber, consumer = running(200)
    clock = Clock()
    subscriber.offsets = FinishedOffsets(0.2, clock=clock)

    await subscriber.finished([record(P0, 7), record(P1, 2)])
    await subscriber.finished([record(P0, 8)])
    await subscriber.get_msg(cast(AIOKafkaConsumer, consumer))
    assert consumer.commits == []

    clock.now += 0.2
    await subscriber.get_msg(cast(AIOKafkaConsumer, consumer))
    assert consumer.commits == [{P0: 9, P1: 3}]


async def test_without_an_interval_each_batch_is_committed_when_finished() -> None:
    subscriber, consumer = running(0)

    await subscriber.finished([record(P0, 7)])

    assert consumer.commits == [{P0: 8}]


async def test_a_batch_finished_while_stopping_is_committed_at_once() -> None:
    subscriber, consumer = running(60_000)
    subscriber.running = False

    await subscriber.finished([record(P1, 4)])

    assert consumer.commits == [{P1: 5}]


async def test_a_stopping_subscriber_commits_what_is_finished_before_its_consumer_stops() -> None:
    subscriber, consumer = running(60_000)
    await subscriber.finished([record(P0, 1)])
    assert consumer.commits == []

    await subscriber.stop()

    assert consumer.commits == [{P0: 2}]
    assert consumer.stopped_after_commits == 1
    assert subscriber.consumer is None


async def test_a_worked_batch_is_reported_finished() -> None:
    subscriber, consumer = running(0)

    await consume_with(subscriber, Runner())((record(P0, 5), record(P0, 6)))

    assert consumer.commits == [{P0: 7}]
    assert consumer.seeks == []


async def test_a_failed_batch_is_rewound_in_the_partitions_still_owned() -> None:
    subscriber, consumer = running(0)
    consumer.owned = {P0}

    with pytest.raises(TimeoutError):
        await consume_with(subscriber, Runner(TimeoutError("mongo down")))(
            (record(P0, 5), record(P1, 9), record(P0, 6))
        )

    # Delivered again from its first record; nothing of it is committed.
    assert consumer.seeks == [(P0, 5)]
    assert consumer.commits == []


async def test_a_rebalance_waits_until_the_polled_batch_is_worked_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscriber, consumer = running(60_000)
    release = asyncio.Event()

    async def consume(records: tuple[Record, ...]) -> None:
        await release.wait()
        await subscriber.finished(records)

    monkeypatch.setattr(subscriber, "consume", consume)
    batch = asyncio.create_task(subscriber.consume_one((record(P0, 5),)))
    await asyncio.sleep(0)
    revocation = asyncio.create_task(subscriber.offsets.on_partitions_revoked({P0, P1}))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not revocation.done()

    release.set()
    await asyncio.wait_for(asyncio.gather(batch, revocation), 5)

    # Its next owner starts after the batch.
    assert consumer.commits == [{P0: 6}]


async def test_a_batch_that_fails_does_not_hold_up_a_rebalance(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    subscriber, consumer = running(60_000)

    async def consume(records: tuple[Record, ...]) -> None:
        raise TimeoutError("mongo down")

    monkeypatch.setattr(subscriber, "consume", consume)
    with pytest.raises(TimeoutError):
        await subscriber.consume_one((record(P0, 5),))

    await asyncio.wait_for(subscriber.offsets.on_partitions_revoked({P0, P1}), 5)
    assert consumer.commits == []
