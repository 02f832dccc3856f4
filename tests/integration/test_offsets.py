"""The key-ordered consumer through real Kafka: a slow thread holds up no other thread;
offsets are committed below the lowest unfinished record, before a rebalance hands the
partitions on and before a consumer stops; a rebalance waits for the records in progress,
and a record that outlasts the wait is redone by the partition's next owner."""

from __future__ import annotations

import asyncio
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from baton_contracts import MessageReceived, encode
from baton_runtime import KafkaSettings, build_broker, ensure_topics
from tests.support.consumers import Member, consuming
from tests.support.waiting import eventually

# Longer than any test here: every commit seen is one of the early ones.
NEVER = 600_000


async def new_topic(
    kafka_settings: KafkaSettings,
    name: str,
    *,
    partitions: int = 3,
    commit_interval_ms: int = NEVER,
) -> tuple[KafkaSettings, str]:
    """Settings whose commit interval never comes round in these tests (unless given), and a
    topic of their own; its consumers' group has the topic's name."""
    settings = kafka_settings.model_copy(
        update={"commit_interval_ms": commit_interval_ms, "topic_partitions": partitions}
    )
    topic = f"offsets-{name}-{uuid.uuid4().hex[:6]}"
    await ensure_topics(settings, [topic])
    return settings, topic


async def send(
    settings: KafkaSettings, topic: str, count: int, *, threads: list[str] | None = None
) -> list[str]:
    threads = threads or [f"offsets-{uuid.uuid4().hex[:8]}" for _ in range(count)]
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
    member = consuming(settings, topic, seen, name="offsets-a")
    await member.start()
    try:
        threads = await send(settings, topic, 12)
        await eventually(lambda: _all(seen, threads), what="every record handled")
        # Finished, but the interval is not over: nothing committed yet.
        assert await committed(settings, topic) == {}
    finally:
        await member.stop()

    assert await committed(settings, topic) == await log_ends(settings, topic)


async def test_a_slow_thread_holds_up_only_itself(kafka_settings: KafkaSettings) -> None:
    settings, topic = await new_topic(kafka_settings, "slow", partitions=1, commit_interval_ms=0)
    seen: list[str] = []
    finished: list[str] = []
    slow = f"slow-{uuid.uuid4().hex[:8]}"
    gate = asyncio.Event()
    member = consuming(
        settings, topic, seen, name="offsets-slow", finished=finished, gates={slow: gate}
    )
    await member.start()
    try:
        others = [f"other-{uuid.uuid4().hex[:8]}" for _ in range(10)]
        # Every record on the one partition: the slow thread's first, then the others.
        await send(settings, topic, 1, threads=[slow])
        await eventually(lambda: _any(seen), what="the slow record started")
        await send(settings, topic, 10, threads=others)
        await eventually(lambda: _all(finished, others), what="the other threads finished")
        assert slow not in finished
        # A crash now would redo the slow record and what came after it, nothing before.
        await asyncio.sleep(1)  # a few polls, each followed by a commit
        assert list((await committed(settings, topic)).values()) == [0]
        gate.set()
        await eventually(lambda: _all(finished, [slow]), what="the slow thread finished")
    finally:
        gate.set()
        await member.stop()
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


async def test_a_rebalance_waits_for_the_records_in_progress(
    kafka_settings: KafkaSettings,
) -> None:
    settings, topic = await new_topic(kafka_settings, "in-progress")
    first_seen: list[str] = []
    second_seen: list[str] = []
    held = f"held-{uuid.uuid4().hex[:8]}"
    gate = asyncio.Event()
    first = consuming(settings, topic, first_seen, name="offsets-first", gates={held: gate})
    second = consuming(settings, topic, second_seen, name="offsets-second")
    await first.start()
    try:
        threads = await send(
            settings,
            topic,
            12,
            threads=[held, *(f"t-{i}-{uuid.uuid4().hex[:6]}" for i in range(11))],
        )
        await eventually(lambda: _all(first_seen, threads), what="the first member at work")

        # The second member joins while a record waits at the gate. Had the first let its
        # partitions go at once, the second would take that record up again (its offset
        # is not committed) and the join would be over within the wait.
        joining = asyncio.ensure_future(second.start())
        await asyncio.wait({joining}, timeout=3)
        assert not joining.done(), "the group rebalanced with a record in progress"
        gate.set()
        await joining
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


async def test_a_record_still_running_at_shutdown_is_redone_by_the_next_owner(
    kafka_settings: KafkaSettings,
) -> None:
    settings, topic = await new_topic(kafka_settings, "abandoned", partitions=1)
    first_seen: list[str] = []
    first_finished: list[str] = []
    second_seen: list[str] = []
    second_finished: list[str] = []
    stuck = f"stuck-{uuid.uuid4().hex[:8]}"
    never = asyncio.Event()
    first = consuming(
        settings,
        topic,
        first_seen,
        name="offsets-first",
        finished=first_finished,
        gates={stuck: never},
        grace=1.0,
    )
    await first.start()
    second: Member | None = None
    try:
        after = [f"after-{i}-{uuid.uuid4().hex[:6]}" for i in range(5)]
        await send(settings, topic, 6, threads=[stuck, *after])
        await eventually(lambda: _all(first_finished, after), what="the first member at work")
        # The member stops while the stuck record still runs: it is given up after the
        # grace period and stays uncommitted, for the partition's next owner.
        await first.stop()
        second = consuming(
            settings, topic, second_seen, name="offsets-second", finished=second_finished
        )
        await second.start()
        await eventually(lambda: _all(second_finished, [stuck]), what="the stuck record redone")
    finally:
        never.set()
        if second is not None:
            await second.stop()
    assert stuck not in first_finished
    # The next owner starts at the abandoned record: it and what followed it are redone
    # (replays, for idempotent handlers), nothing before it is.
    assert second_seen == [stuck, *after]


async def _any(seen: list[str]) -> bool:
    return bool(seen)


async def _all(seen: list[str], wanted: list[str]) -> bool:
    return set(wanted) <= set(seen)
