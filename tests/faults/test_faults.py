"""Faults under a steady load, one scenario at a time, on real processes.

After each scenario every accepted message must have exactly one outcome (a reply, or a
request for a person), no message gets two different replies, each thread's replies keep the
order of its messages, and dead letters appear only for the poison. Each test prints the
counts it checked.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaProducer

from baton_contracts import MessageReceived, MessageSubmitted, topics
from baton_testkit import Load
from tests.support.verdict import CHECKED, Verdict, settle
from tests.support.waiting import eventually

from .conftest import Faults

# Each scenario drives load for ~10 s, injects its fault and waits for recovery (consumer
# group session timeouts, a broker restart); the module's first test also starts the stack.
pytestmark = pytest.mark.timeout(600)

Fault = Callable[[Load], Awaitable[None]]


async def scenario(
    faults: Faults,
    fault: Fault,
    *,
    name: str,
    threads: int = 6,
    interval_s: float = 0.4,
    duration_s: float = 10.0,
    fault_after_s: float = 3.0,
    text: str | None = None,
) -> tuple[Load, Verdict]:
    # A scenario that failed to bring a server back must not take the next ones down with it.
    await faults.system.stack.up()
    thread_ids = []
    for _ in range(threads):
        response = await faults.ingest.post(
            "/v1/threads", json={"user_id": f"{name}-{uuid.uuid4().hex[:6]}", "channel": "web"}
        )
        assert response.status_code == 201, response.text
        thread_ids.append(response.json()["thread_id"])
    load = Load(
        faults.system.programs["ingest"].url,
        thread_ids,
        interval_s,
        gateway_key=faults.system.gateway_key,
    )
    if text is not None:
        load.text = text
    running = asyncio.create_task(load.run(duration_s))
    await asyncio.sleep(fault_after_s)
    await fault(load)
    await running
    verdict = await settle(load, faults.recorder)
    line = f"[{name}] {verdict.summary()} abandoned={load.abandoned}"
    CHECKED.append(line)
    print(f"\n{line}")
    return load, verdict


def dead_letters(faults: Faults, load: Load) -> int:
    keys = {t.encode() for t in load.threads}
    return sum(
        1
        for seen in faults.recorder.records
        if seen.topic.endswith(topics.DLQ_SUFFIX) and seen.key in keys
    )


def assert_clean(faults: Faults, load: Load, verdict: Verdict) -> None:
    assert verdict.accepted > 0
    assert load.abandoned == 0
    assert verdict.lost == [], verdict.summary()
    assert verdict.duplicates == [], verdict.summary()
    assert verdict.out_of_order == [], verdict.summary()
    assert dead_letters(faults, load) == 0


@pytest.mark.parametrize("service", ["ingest", "router", "ai-responder", "human-queue"])
async def test_service_killed_and_restarted(faults: Faults, service: str) -> None:
    async def fault(_: Load) -> None:
        await faults.system.restart(service)  # SIGKILL, then a fresh process

    load, verdict = await scenario(faults, fault, name=f"kill-{service}")
    assert_clean(faults, load, verdict)


@pytest.mark.parametrize(
    ("server", "name"), [("kafka", "kafka-restart"), ("mongodb", "mongo-restart")]
)
async def test_server_stopped_and_restarted(faults: Faults, server: str, name: str) -> None:
    async def fault(_: Load) -> None:
        await faults.system.stack.stop(server)
        await asyncio.sleep(3)
        await faults.system.stack.up()

    load, verdict = await scenario(faults, fault, name=name, duration_s=14)
    assert_clean(faults, load, verdict)


async def test_model_timeouts_and_server_errors(faults: Faults) -> None:
    tag = f"flaky{uuid.uuid4().hex[:6]}"

    async def fault(_: Load) -> None:
        rules = [
            {"match": {"last_user": tag}, "times": 4, "respond": {"timeout": True}},
            {"match": {"last_user": tag}, "times": 8, "respond": {"error": {"status": 500}}},
        ]
        response = await faults.model.post("/_script", json=rules)
        response.raise_for_status()

    load, verdict = await scenario(
        faults, fault, name="model-failures", text=f"What are your opening hours? {tag}"
    )
    assert_clean(faults, load, verdict)
    calls = (await faults.model.get("/_calls", params={"contains": tag})).json()["calls"]
    assert any(c["status"] == 500 for c in calls)


async def test_poison_messages_are_dead_lettered_and_the_rest_flows(faults: Faults) -> None:
    poison = [
        (topics.MESSAGE_SUBMITTED, b"{broken"),
        (topics.MESSAGE_SUBMITTED, b'{"type": "message.nope"}'),
        (
            topics.MESSAGE_SUBMITTED,
            MessageSubmitted.first(thread_id="no-such-thread", text="x").model_dump_json().encode(),
        ),
        (
            topics.MESSAGE_RECEIVED,
            MessageReceived.first(thread_id="no-such-thread", message_id=uuid.uuid4(), text="x")
            .model_dump_json()
            .encode(),
        ),
    ]

    async def fault(load: Load) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=faults.kafka.bootstrap_servers)
        await producer.start()
        try:
            for topic, value in poison:
                # Keyed like one of the load's threads: the poison shares its partition.
                await producer.send_and_wait(
                    faults.kafka.topic(topic), value, key=load.threads[0].encode()
                )
        finally:
            await producer.stop()

    load, verdict = await scenario(faults, fault, name="poison")
    assert verdict.lost == [], verdict.summary()
    assert verdict.duplicates == [], verdict.summary()
    assert verdict.out_of_order == [], verdict.summary()

    async def all_dead() -> bool:
        return dead_letters(faults, load) >= len(poison)

    await eventually(all_dead, what="the dead letters")
    assert dead_letters(faults, load) == len(poison)


async def test_consumer_group_rebalance(faults: Faults) -> None:
    async def fault(_: Load) -> None:
        await faults.system.start("ai-responder", extra=True)  # a second instance joins
        await asyncio.sleep(3)
        await faults.system.stop_instance("ai-responder", -1)  # and leaves gracefully

    load, verdict = await scenario(faults, fault, name="rebalance", duration_s=14)
    assert_clean(faults, load, verdict)
    # Joining and leaving wait for the records in progress: nothing is published twice.
    assert verdict.redelivered == 0, verdict.summary()


def slow_replies(tag: str, delay_ms: int) -> list[dict[str, object]]:
    """Scripted-model rules: every reply of the scenario's threads takes ``delay_ms``
    (under the ai-responder's model timeout in the fault system)."""
    return [
        {
            "match": {"last_user": tag, "schema": "assistant_reply"},
            "delay_ms": delay_ms,
            "respond": {
                "json": {
                    "reply": "Thanks for waiting.",
                    "confidence": 0.95,
                    "requires_human": False,
                    "reason": None,
                }
            },
        }
    ]


async def test_ai_responder_killed_with_slow_calls_in_flight(faults: Faults) -> None:
    tag = f"slow{uuid.uuid4().hex[:6]}"
    response = await faults.model.post("/_script", json=slow_replies(tag, 1500))
    response.raise_for_status()

    async def fault(_: Load) -> None:
        await faults.system.restart("ai-responder")  # SIGKILL mid-call, then a new process

    load, verdict = await scenario(
        faults,
        fault,
        name="kill-ai-responder-slow-calls",
        threads=12,
        interval_s=0.3,
        text=f"Where is my parcel? {tag}",
    )
    assert_clean(faults, load, verdict)


async def test_rebalance_with_slow_calls_in_flight(faults: Faults) -> None:
    tag = f"slow{uuid.uuid4().hex[:6]}"
    response = await faults.model.post("/_script", json=slow_replies(tag, 1500))
    response.raise_for_status()

    async def fault(_: Load) -> None:
        await faults.system.start("ai-responder", extra=True)
        await asyncio.sleep(3)
        await faults.system.stop_instance("ai-responder", -1)

    load, verdict = await scenario(
        faults,
        fault,
        name="rebalance-slow-calls",
        threads=12,
        interval_s=0.3,
        duration_s=14,
        text=f"Where is my parcel? {tag}",
    )
    assert_clean(faults, load, verdict)
    # Revocation waits for the calls in progress (well within its grace): nothing is
    # worked on by two members, so nothing is published twice.
    assert verdict.redelivered == 0, verdict.summary()
