"""Finished offsets through real Kafka: committed together later, yet before a rebalance
hands their partitions on and before a consumer stops, so nobody redoes finished work; and
a rebalance waits for the batch in progress, so nobody works on the same records twice."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from baton_contracts import MessageReceived, encode
from baton_runtime.kafka import build_broker, ensure_topics
from baton_runtime.settings import KafkaSettings
from tests.support.consumers import consuming
from tests.support.waiting import eventually

# Longer than any test here: every commit seen is one of the early ones.
NEVER = 600_000


async def new_topic(kafka_settings: KafkaSettings, name: str) -> tuple[KafkaSettings, str]:
    """Settings whose commit interval never comes round in these tests, and a topic of
    their own; its consumers' group has the topic's name."""
    settings = kafka_settings.model_copy(update={"commit_interval_ms": NEVER})
    topic = f"offsets-{name}-{uuid.uuid4().hex[:6]}"
    await ensure_topics(settings, [topic])
    return settings, topic


async def send(settings: KafkaSettings, topic: str, count: int) -> list[str]:
    threads = [f"offsets-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    async with build_broker(settings, client_id="offsets-producer") as producer:
        await producer.start()
        for thread_id in threads:
            event = MessageReceived.first(thread_id=thread_id, message_id=uuid.uuid4(), text="hi")
            await producer.publish(encode(event), settings.topic(topic), key=event.kafka_key())
    return threads


async def committed(settings: KafkaSettings, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(settings.group(group))
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def log_ends(settings: KafkaSettings, topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=f"offsets-ends-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
    )
    await consumer.start()
    partitions = [
        TopicPartition(settings.topic(topic), p) for p in range(settings.topic_partitions)
    ]
    try:
        ends = await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()
    return {tp: offset for tp, offset in ends.items() if offset > 0}


async def test_a_stopping_consumer_commits_what_it_finished(kafka_settings: KafkaSettings) -> None:
    settings, topic = await new_topic(kafka_settings, "stop")
    seen: list[str] = []
    broker = consuming(settings, topic, seen, name="offsets-a")
    await broker.start()
    try:
        threads = await send(settings, topic, 12)
        await eventually(lambda: _all(seen, threads), what="every record handled")
        # Finished, but the interval is not over: nothing committed yet.
        assert await committed(settings, topic) == {}
    finally:
        await broker.stop()

    assert await committed(settings, topic) == await log_ends(settings, topic)


async def test_a_rebalance_commits_the_revoked_partitions_first(
    kafka_settings: KafkaSettings,
) -> None:
    settings, topic = await new_topic(kafka_settings, "rebalance")
    first_seen: list[str] = []
    second_seen: list[str] = []
    first = consuming(settings, topic, first_seen, name="offsets-first")
    second = consuming(settings, topic, second_seen, name="offsets-second")
    await first.start()
    try:
        threads = await send(settings, topic, 12)
        await eventually(lambda: _all(first_seen, threads), what="every record handled")
        assert await committed(settings, topic) == {}

        # The second member's join revokes the first one's partitions: they are committed
        # on the way, so the second takes over right after the finished records.
        await second.start()
        ends = await log_ends(settings, topic)
        assert await committed(settings, topic) == ends
        later = await send(settings, topic, 12)
        await eventually(
            lambda: _all(first_seen + second_seen, later), what="later records handled"
        )
    finally:
        await second.stop()
        await first.stop()

    assert sorted(first_seen + second_seen) == sorted(threads + later)  # none handled twice
    assert second_seen, "the second member took partitions"


async def test_a_rebalance_waits_for_the_batch_in_progress(kafka_settings: KafkaSettings) -> None:
    settings, topic = await new_topic(kafka_settings, "in-progress")
    first_seen: list[str] = []
    second_seen: list[str] = []
    gate = asyncio.Event()
    first = consuming(settings, topic, first_seen, name="offsets-first", gate=gate)
    second = consuming(settings, topic, second_seen, name="offsets-second")
    await first.start()
    try:
        threads = await send(settings, topic, 12)
        await eventually(lambda: _any(first_seen), what="the first member at work on a batch")

        # The second member joins while that batch waits at the gate. Had the first let
        # its partitions go at once, the second would take up the batch's records (their
        # offsets are not committed) and the join would be over within the wait.
        joining = asyncio.ensure_future(second.start())
        await asyncio.wait({joining}, timeout=3)
        assert not joining.done(), "the group rebalanced with a batch in progress"
        gate.set()
        await joining
        await eventually(
            lambda: _all(first_seen + second_seen, threads), what="every record handled"
        )
        later = await send(settings, topic, 12)
        await eventually(
            lambda: _all(first_seen + second_seen, later), what="later records handled"
        )
    finally:
        gate.set()
        await second.stop()
        await first.stop()

    assert sorted(first_seen + second_seen) == sorted(threads + later)  # none handled twice
    assert second_seen, "the second member took partitions"


async def _any(seen: list[str]) -> bool:
    return bool(seen)


async def _all(seen: list[str], wanted: list[str]) -> bool:
    return set(wanted) <= set(seen)
