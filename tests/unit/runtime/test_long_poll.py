"""Batch subscribers: how many a subscription has, and that they wait for records in the
poll itself, with no pause after an empty one."""

from __future__ import annotations

from typing import Any, cast

import anyio
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from baton_contracts import MessageReceived
from baton_runtime.consumer import EventRunner, subscribe
from baton_runtime.kafka import LongPollBatchSubscriber, build_broker, long_poll
from baton_runtime.settings import KafkaSettings


class FakeConsumer:
    def __init__(self, batches: dict[TopicPartition, list[str]]) -> None:
        self.batches = batches
        self.polls: list[dict[str, Any]] = []

    async def getmany(self, **options: Any) -> dict[TopicPartition, list[str]]:
        self.polls.append(options)
        return self.batches


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


def test_every_consumer_of_a_subscription_polls_long(subscribers: list[Any]) -> None:
    assert len(subscribers) == 2
    assert all(type(s) is LongPollBatchSubscriber for s in subscribers)


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
    first, second = TopicPartition("t", 0), TopicPartition("t", 1)
    consumer = FakeConsumer({first: ["a", "b"], second: ["c"]})

    got = await subscribers[0].get_msg(cast(AIOKafkaConsumer, consumer))

    assert got == ("a", "b", "c")


def test_only_faststream_s_own_batch_subscriber_is_changed() -> None:
    with pytest.raises(TypeError, match="BatchSubscriber"):
        long_poll(cast(Any, object()))
