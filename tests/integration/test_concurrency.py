"""Key-ordered concurrency through the whole pipeline: a slow model call holds up only its
own thread, and each thread's replies keep the order of its messages whatever the model's
latencies. Orders are read from Kafka as the watcher consumed it: within one partition
that is the order in which the records were appended."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

from aiokafka.partitioner import DefaultPartitioner

from baton_contracts import MessageSent, RouteDecided, topics
from tests.support.pipeline import Pipeline
from tests.support.queue import reply_rule, token
from tests.support.recorder import in_thread


def slow(rule: dict[str, Any], delay_ms: int) -> dict[str, Any]:
    return {**rule, "delay_ms": delay_ms}


async def threads_on_one_partition(pipeline: Pipeline, count: int) -> list[str]:
    """``count`` new threads whose records share a partition."""
    partitions = list(range(pipeline.kafka.topic_partitions))
    by_partition: dict[int, list[str]] = {}
    while True:
        thread_id = await pipeline.new_thread()
        partition = DefaultPartitioner()(thread_id.encode(), partitions, partitions)
        found = by_partition.setdefault(partition, [])
        found.append(thread_id)
        if len(found) == count:
            return found


def sent_order(pipeline: Pipeline) -> list[str]:
    """Thread ids of message.sent records in the order they were consumed."""
    return [
        seen.event.thread_id
        for seen in pipeline.recorder.records
        if isinstance(seen.event, MessageSent)
        and seen.topic == pipeline.kafka.topic(topics.MESSAGE_SENT)
    ]


async def test_a_slow_model_call_does_not_delay_another_thread_of_its_partition(
    pipeline: Pipeline,
) -> None:
    slow_tok, fast_tok = token(), token()
    # Under the AI's model timeout, and far longer than a whole fast turn.
    await pipeline.script(slow(reply_rule(slow_tok, "That took a while."), 1500))
    await pipeline.script(reply_rule(fast_tok, "Quick answer."))
    slow_thread, fast_thread = await threads_on_one_partition(pipeline, 2)

    await pipeline.say(slow_thread, f"A hard question {slow_tok}")
    await pipeline.recorder.wait_for(RouteDecided, in_thread(slow_thread))
    await pipeline.say(fast_thread, f"An easy question {fast_tok}")

    await pipeline.recorder.wait_for(MessageSent, in_thread(fast_thread))
    await pipeline.recorder.wait_for(MessageSent, in_thread(slow_thread))
    order = [t for t in sent_order(pipeline) if t in (slow_thread, fast_thread)]
    # Same partition of message.sent too: the fast reply was appended first.
    assert order == [fast_thread, slow_thread]


async def test_each_thread_keeps_its_order_under_random_model_latencies(
    pipeline: Pipeline,
) -> None:
    rng = random.Random(20261207)
    threads = [await pipeline.new_thread() for _ in range(10)]
    rules = []
    texts: dict[str, list[str]] = {}
    for thread_id in threads:
        texts[thread_id] = []
        for n in range(4):
            tok = token()
            rules.append(slow(reply_rule(tok, f"Answer {n}."), rng.randrange(0, 600)))
            texts[thread_id].append(f"Question {n} {tok}")
    await pipeline.script(*rules)

    async def chat(thread_id: str) -> list[uuid.UUID]:
        return [await pipeline.say(thread_id, text) for text in texts[thread_id]]

    said = dict(zip(threads, await asyncio.gather(*(chat(t) for t in threads)), strict=True))
    mine = set(threads)
    await pipeline.recorder.wait_for(
        MessageSent, lambda e: e.thread_id in mine, count=40, timeout=90
    )
    await asyncio.sleep(1)  # time for a second answer to any of them to show up
    sent = pipeline.recorder.events(MessageSent, lambda e: e.thread_id in mine)
    for thread_id, messages in said.items():
        replies = [e.in_reply_to for e in sent if e.thread_id == thread_id]
        assert replies == messages, f"thread {thread_id}: replies to {replies}, said {messages}"
