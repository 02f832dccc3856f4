"""Faults under a steady load, one scenario at a time, on real processes.

The load: conversations the AI answers, conversations whose users want a person, (in the
scale-out scenario) conversations whose AI replies a person approves before they are sent,
and a team of agents claiming, answering, approving and resolving their tickets over the
human-queue API.

After each scenario every accepted message must have exactly one outcome (a reply, or a
request for a person), no message gets two different replies, each thread's replies keep the
order of its messages, and dead letters appear only for the poison. On the human side
(``people.py``), every message sent to people gets one reply by a person, delivered once,
every draft a person approved is sent once and no draft goes out unapproved, every ticket is
resolved, and no ticket is held by two agents at once. Each test prints the counts it
checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiokafka import AIOKafkaProducer

from baton_contracts import (
    ActionDecided,
    ActionExecuted,
    MessageReceived,
    MessageSent,
    MessageSubmitted,
    derive_id,
    topics,
)
from baton_testkit import PEOPLE_TEXT, Load, Team
from tests.support.tool_servers import ToolServer, tool_server
from tests.support.verdict import CHECKED, Verdict, settle
from tests.support.waiting import eventually

from .conftest import SCALE_OUT_PARTITIONS, Faults, running
from .instances import Consumption, taking_part
from .people import PeopleVerdict, settle_people

# Each scenario drives load for ~10 s, injects its fault and waits for recovery (consumer
# group session timeouts, a broker restart); the module's first test also starts the stack.
pytestmark = pytest.mark.timeout(600)

TEAM_SIZE = 3
SERVICES = ("ingest", "router", "ai-responder", "human-queue")
WORK = ("claim", "reply", "resolve")
"""The agents' requests a kill of the human-queue should cut short."""
KILL_DURING = (("claim",), ("reply",), WORK)
"""What each kill of ``kill-human-queue-while-working`` waits for (a few seconds at most)."""
THIRD_HANDLES = 10
"""The ``route.decided`` records the scale-out scenario's third ai-responder handles before
it leaves."""

Fault = Callable[[Load, Team], Awaitable[None]]


def escalation_rule(tag: str) -> dict[str, object]:
    """A scripted-model rule: the AI hands every message with ``tag`` to people."""
    return {
        "match": {"last_user": tag, "schema": "assistant_reply"},
        "respond": {
            "json": {
                "reply": "A colleague will look into this.",
                "confidence": 0.2,
                "requires_human": True,
                "reason": "a damaged parcel needs a person",
            }
        },
    }


async def new_threads(faults: Faults, name: str, count: int) -> list[str]:
    thread_ids = []
    for _ in range(count):
        response = await faults.ingest.post(
            "/v1/threads", json={"user_id": f"{name}-{uuid.uuid4().hex[:6]}", "channel": "web"}
        )
        assert response.status_code == 201, response.text
        thread_ids.append(response.json()["thread_id"])
    return thread_ids


async def scenario(
    faults: Faults,
    fault: Fault,
    *,
    name: str,
    threads: int = 6,
    people: int = 2,
    approvals: int = 0,
    interval_s: float = 0.4,
    duration_s: float = 10.0,
    fault_after_s: float = 3.0,
    text: str | None = None,
    notes: dict[str, str] | None = None,
) -> tuple[Load, Verdict, PeopleVerdict]:
    """Steady load on ``threads`` conversations the AI answers, ``people`` whose users
    want a person (alternately: the router's rules send them to people, or the AI hands
    them over) and ``approvals`` whose AI replies people approve (the system's approval
    topics must include ``refund``), worked by a team of agents; ``fault`` is injected
    after ``fault_after_s``. ``notes`` (filled by the fault, say) are added to the printed
    summary."""
    # A scenario that failed to bring a server back must not take the next ones down with it.
    await faults.system.stack.up()
    tag = f"esc{uuid.uuid4().hex[:6]}"
    response = await faults.model.post("/_script", json=[escalation_rule(tag)])
    response.raise_for_status()
    ai_threads = await new_threads(faults, name, threads)
    approval_threads = await new_threads(faults, name, approvals)
    team = Team(
        faults.system.programs["human-queue"].url,
        faults.system.admin_token,
        size=TEAM_SIZE,
        hand_back_to_ai={*ai_threads, *approval_threads},
    )
    await team.hire(prefix=name)
    load = Load(
        faults.system.programs["ingest"].url,
        ai_threads,
        interval_s,
        gateway_key=faults.system.gateway_key,
        people=await new_threads(faults, name, people),
        people_texts=(PEOPLE_TEXT, f"My parcel arrived broken, what now? {tag}"),
        approvals=approval_threads,
        answered=team.answered,
    )
    if text is not None:
        load.text = text
    working = asyncio.create_task(team.run())
    try:
        running = asyncio.create_task(load.run(duration_s))
        await asyncio.sleep(fault_after_s)
        await fault(load, team)
        await running
        verdict, people_verdict = await asyncio.gather(
            settle(load, faults.recorder),
            settle_people(
                load,
                faults.recorder,
                team,
                faults.system.stack.mongodb,
                faults.system.namespace,
            ),
        )
    finally:
        team.stop()
        await working
    extra = "".join(f" {k}={v}" for k, v in (notes or {}).items())
    line = (
        f"[{name}] {verdict.summary()} abandoned={load.abandoned} impatient={load.impatient} "
        f"{people_verdict.summary()}{extra}"
    )
    CHECKED.append(line)
    print(f"\n{line}")
    return load, verdict, people_verdict


def dead_letters(faults: Faults, load: Load) -> int:
    keys = {t.encode() for t in load.threads}
    return sum(
        1
        for seen in faults.recorder.records
        if seen.topic.endswith(topics.DLQ_SUFFIX) and seen.key in keys
    )


def assert_people_clean(load: Load, people: PeopleVerdict) -> None:
    """Every message that went to people was answered by a person exactly once, every
    draft a person approved was sent exactly once and none went out unapproved, every
    ticket was resolved, and no ticket was held by two agents at once."""
    assert people.people > 0
    assert load.impatient == 0, people.summary()
    assert people.unanswered == [], people.summary()
    assert people.answered_twice == [], people.summary()
    assert people.undelivered == [], people.summary()
    assert people.unconfirmed == [], people.summary()
    assert people.open_tickets == [], people.summary()
    assert people.double_holds == [], people.summary()
    assert people.open_claims == [], people.summary()
    assert people.unapproved == [], people.summary()
    assert people.unsent == [], people.summary()
    assert people.sent_unapproved == [], people.summary()
    assert people.approved_twice == [], people.summary()
    assert people.approved_sent == people.approved, people.summary()
    assert people.team.get("gave_up", 0) == 0, people.team


def assert_clean(faults: Faults, load: Load, verdict: Verdict, people: PeopleVerdict) -> None:
    assert verdict.accepted > 0
    assert load.abandoned == 0
    assert verdict.lost == [], verdict.summary()
    assert verdict.duplicates == [], verdict.summary()
    assert verdict.out_of_order == [], verdict.summary()
    assert dead_letters(faults, load) == 0
    assert_people_clean(load, people)


@pytest.mark.parametrize("service", ["ingest", "router", "ai-responder", "human-queue"])
async def test_service_killed_and_restarted(faults: Faults, service: str) -> None:
    async def fault(_: Load, __: Team) -> None:
        await faults.system.restart(service)  # SIGKILL, then a fresh process

    load, verdict, people = await scenario(faults, fault, name=f"kill-{service}")
    assert_clean(faults, load, verdict, people)


async def test_human_queue_killed_repeatedly_while_agents_work(faults: Faults) -> None:
    """SIGKILL of the human-queue, three times: while an agent's claim is under way, while
    a reply is, then while any of its requests is. A restarted human-queue answers only
    once its consumer has joined its group (some 10 s after a SIGKILL), and the agents then
    work what piled up at once: the next kill waits for that, not for the restart to be
    seen as ready. The agents retry what failed with the same request."""
    hits: list[str] = []
    notes: dict[str, str] = {}

    async def fault(_: Load, team: Team) -> None:
        starting: asyncio.Task[object] | None = None
        answered = 0
        for during in KILL_DURING:
            if starting is not None:
                await team.serving(answered, timeout=30)
            await team.busy(during, timeout=8)
            under_way = [a for a in WORK if team.in_flight[a]]
            if starting is not None and not starting.done():
                starting.cancel()  # its process is killed below, not waited for
                with contextlib.suppress(asyncio.CancelledError):
                    await starting
            faults.system.kill("human-queue")
            answered = team.answers
            hits.append("+".join(under_way) or "idle")
            starting = asyncio.create_task(faults.system.start("human-queue"))
        assert starting is not None
        await starting
        notes["kills"] = ",".join(hits)

    load, verdict, people = await scenario(
        faults,
        fault,
        name="kill-human-queue-while-working",
        threads=3,
        people=6,
        duration_s=14,
        fault_after_s=2,
        notes=notes,
    )
    assert_clean(faults, load, verdict, people)
    assert len(hits) == len(KILL_DURING)
    # Most kills land mid-request; at least one must, or the scenario tested nothing.
    assert any(h != "idle" for h in hits), hits


@pytest.mark.parametrize(
    ("server", "name"), [("kafka", "kafka-restart"), ("mongodb", "mongo-restart")]
)
async def test_server_stopped_and_restarted(faults: Faults, server: str, name: str) -> None:
    async def fault(_: Load, __: Team) -> None:
        await faults.system.stack.stop(server)
        await asyncio.sleep(3)
        await faults.system.stack.up()

    load, verdict, people = await scenario(faults, fault, name=name, duration_s=14)
    assert_clean(faults, load, verdict, people)


async def test_model_timeouts_and_server_errors(faults: Faults) -> None:
    tag = f"flaky{uuid.uuid4().hex[:6]}"

    async def fault(_: Load, __: Team) -> None:
        rules = [
            {"match": {"last_user": tag}, "times": 4, "respond": {"timeout": True}},
            {"match": {"last_user": tag}, "times": 8, "respond": {"error": {"status": 500}}},
        ]
        response = await faults.model.post("/_script", json=rules)
        response.raise_for_status()

    load, verdict, people = await scenario(
        faults, fault, name="model-failures", text=f"What are your opening hours? {tag}"
    )
    assert_clean(faults, load, verdict, people)
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

    async def fault(load: Load, _: Team) -> None:
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

    load, verdict, people = await scenario(faults, fault, name="poison")
    assert verdict.lost == [], verdict.summary()
    assert verdict.duplicates == [], verdict.summary()
    assert verdict.out_of_order == [], verdict.summary()

    async def all_dead() -> bool:
        return dead_letters(faults, load) >= len(poison)

    await eventually(all_dead, what="the dead letters")
    assert dead_letters(faults, load) == len(poison)
    assert_people_clean(load, people)


async def test_consumer_group_rebalance(faults: Faults) -> None:
    async def fault(_: Load, __: Team) -> None:
        await faults.system.start("ai-responder", extra=True)  # a second instance joins
        await asyncio.sleep(3)
        await faults.system.stop_instance("ai-responder", -1)  # and leaves gracefully

    load, verdict, people = await scenario(faults, fault, name="rebalance", duration_s=14)
    assert_clean(faults, load, verdict, people)
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

    async def fault(_: Load, __: Team) -> None:
        await faults.system.restart("ai-responder")  # SIGKILL mid-call, then a new process

    load, verdict, people = await scenario(
        faults,
        fault,
        name="kill-ai-responder-slow-calls",
        threads=12,
        interval_s=0.3,
        text=f"Where is my parcel? {tag}",
    )
    assert_clean(faults, load, verdict, people)


async def test_rebalance_with_slow_calls_in_flight(faults: Faults) -> None:
    tag = f"slow{uuid.uuid4().hex[:6]}"
    response = await faults.model.post("/_script", json=slow_replies(tag, 1500))
    response.raise_for_status()

    async def fault(_: Load, __: Team) -> None:
        await faults.system.start("ai-responder", extra=True)
        await asyncio.sleep(3)
        await faults.system.stop_instance("ai-responder", -1)

    load, verdict, people = await scenario(
        faults,
        fault,
        name="rebalance-slow-calls",
        threads=12,
        interval_s=0.3,
        duration_s=14,
        text=f"Where is my parcel? {tag}",
    )
    assert_clean(faults, load, verdict, people)
    # Revocation waits for the calls in progress (well within its grace): nothing is
    # worked on by two members, so nothing is published twice.
    assert verdict.redelivered == 0, verdict.summary()


async def test_two_instances_of_every_service_with_six_partitions(scale_out: Faults) -> None:
    """Scale-out: topics of six partitions and two instances of every service. Under the
    load (approvals among it), one instance of each service is SIGKILLed and started
    afresh, one after another (the survivor takes over its partitions and gives some back),
    and a third ai-responder joins, takes partitions and leaves gracefully. All of it while
    the load runs, with some load after the last restart. The third ai-responder's own
    metrics show that it held partitions of every topic it consumes and handled records."""
    system = scale_out.system
    for service in SERVICES:
        await system.start(service, extra=True)
    duration_s, fault_after_s = 58.0, 2.0
    notes: dict[str, str] = {"partitions": str(SCALE_OUT_PARTITIONS)}
    loop = asyncio.get_running_loop()
    accepted_by_last_fault: list[int] = []
    third: list[Consumption] = []

    async def third_ai_responder() -> str:
        started = loop.time()
        await system.start("ai-responder", extra=True)  # joins the group, takes partitions
        # It stays until it has shown, on its own /metrics, that it holds partitions and
        # works on them.
        third.append(
            await taking_part(
                system.programs["ai-responder"].urls[-1],
                scale_out.kafka.topic_prefix,
                topic=topics.ROUTE_DECIDED,
                handled=THIRD_HANDLES,
                timeout=45,
            )
        )
        await system.stop_instance("ai-responder", -1)  # and leaves gracefully
        return f"third-ai-responder:{loop.time() - started:.0f}s"

    async def kill_and_restart(service: str) -> str:
        started = loop.time()
        # The first instance: the load and the team lose it as well as its consumers.
        system.kill_instance(service, 0)
        await system.start(service)  # a fresh process on the same port
        return f"{service}:{loop.time() - started:.0f}s"

    async def fault(running: Load, _: Team) -> None:
        steps = [await kill_and_restart(s) for s in ("ingest", "router", "ai-responder")]
        # The third ai-responder comes and goes while the last kill's human-queue restarts
        # (downstream of it: the AI's messages keep flowing).
        steps += await asyncio.gather(third_ai_responder(), kill_and_restart("human-queue"))
        notes["steps"] = ",".join(steps)
        notes["third"] = third[0].summary()
        accepted_by_last_fault.append(len(running.accepted))

    load, verdict, people = await scenario(
        scale_out,
        fault,
        name="scale-out",
        threads=8,
        people=4,
        approvals=4,
        duration_s=duration_s,
        fault_after_s=fault_after_s,
        notes=notes,
    )
    assert_clean(scale_out, load, verdict, people)
    assert people.approved > 0, people.summary()
    assert all(len(system.programs[s].processes) == 2 for s in SERVICES)
    # Every fault was injected under load: messages kept coming after the last one.
    assert len(load.accepted) > accepted_by_last_fault[0], notes
    # The third ai-responder held partitions of each of its topics and handled records.
    (seen,) = third
    assert topics.ROUTE_DECIDED in seen.partitions, seen
    assert all(n > 0 for n in seen.partitions.values()), seen
    assert seen.handled.get(topics.ROUTE_DECIDED, 0) >= THIRD_HANDLES, seen


ACTION_REQUESTS = 12
"""The conversations of the actions scenario, each with one approved action."""
ACTION_KILLS = 3
"""How often the actions scenario SIGKILLs the ai-responder while a call is in flight."""


@pytest.fixture
async def actions(
    faults: Faults, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Faults, ToolServer]]:
    """A second Baton on the faults' stack whose AI has one tool, an HTTP endpoint served
    here, whose every call needs a person's approval."""
    # A scenario before it that failed to bring a server back must not take this one down.
    await faults.system.stack.up()
    async with tool_server() as server:
        path = tmp_path_factory.mktemp("tools") / "tools.json"
        credit = {
            "name": "credit_order",
            "description": "Credit an amount of an order back to the customer.",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
                "required": ["order_id", "amount"],
            },
            "approval": "always",
            "http": {
                "method": "POST",
                "url": f"{server.url}/orders/{{order_id}}/credits",
                "timeout_s": 10,
            },
        }
        path.write_text(json.dumps({"tools": [credit]}))
        async with running(
            faults.system.stack,
            tmp_path_factory.mktemp("actions-logs"),
            AI_RESPONDER_TOOLS_FILE=str(path),
        ) as started:
            yield started, server


async def test_approved_actions_run_once_when_the_ai_responder_is_killed_mid_call(
    actions: tuple[Faults, ToolServer],
) -> None:
    """Conversations whose AI proposes an action a person approves; the tool takes 1.5 s.
    The ai-responder is SIGKILLed while calls are in flight, and restarted, three times.
    Each approved action must take effect exactly once at the tool (which honours
    ``Idempotency-Key``), be announced once, and lead to one reply."""
    faults, server = actions
    server.delay_s = 1.5
    tag = f"act{uuid.uuid4().hex[:6]}"
    rules = [
        {
            "match": {"last_user": tag, "schema": "assistant_reply", "has_tool_result": False},
            "respond": {
                "tool_calls": [
                    {"name": "credit_order", "arguments": {"order_id": "{last_user}", "amount": 80}}
                ]
            },
        },
        {
            "match": {"last_user": tag, "schema": "assistant_reply", "has_tool_result": True},
            "respond": {
                "json": {
                    "reply": "Your order is credited.",
                    "confidence": 0.95,
                    "requires_human": False,
                    "reason": None,
                }
            },
        },
    ]
    (await faults.model.post("/_script", json=rules)).raise_for_status()
    threads = await new_threads(faults, "actions", ACTION_REQUESTS)
    team = Team(faults.system.programs["human-queue"].url, faults.system.admin_token, size=3)
    await team.hire(prefix="actions")
    working = asyncio.create_task(team.run())
    asked: dict[str, uuid.UUID] = {}
    kills_in_flight: list[int] = []

    def replied(thread_id: str) -> set[uuid.UUID]:
        """The AI's replies to the conversation's message."""
        return {
            e.message_id
            for e in faults.recorder.events(MessageSent)
            if e.thread_id == thread_id and e.in_reply_to == asked.get(thread_id)
        }

    async def in_flight() -> int | None:
        return server.in_flight or None

    async def all_replied() -> bool | None:
        return all(replied(t) for t in threads) or None

    async def converse() -> None:
        for i, thread_id in enumerate(threads):
            response = await faults.ingest.post(
                f"/v1/threads/{thread_id}/messages", json={"text": f"Credit order {i} {tag}"}
            )
            assert response.status_code == 202, response.text
            asked[thread_id] = uuid.UUID(response.json()["message_id"])
            await asyncio.sleep(0.5)

    async def kill_mid_call() -> None:
        for _ in range(ACTION_KILLS):
            await eventually(in_flight, timeout=60, what="a tool call in flight")
            kills_in_flight.append(server.in_flight)
            await faults.system.restart("ai-responder")  # SIGKILL, then a fresh process

    try:
        await asyncio.gather(converse(), kill_mid_call())
        await eventually(all_replied, timeout=180, what="a reply in every conversation")
    finally:
        team.stop()
        await working

    mine = set(threads)
    approvals = [
        e
        for e in faults.recorder.events(ActionDecided)
        if e.thread_id in mine and e.decision == "approved"
    ]
    keys = {str(derive_id(e.event_id, "idempotency-key")) for e in approvals}
    executed = {e.event_id for e in faults.recorder.events(ActionExecuted) if e.thread_id in mine}
    resent = sum(
        1 for e in faults.recorder.events(ActionExecuted) if e.thread_id in mine and e.resent
    )
    line = (
        f"[actions-kill-ai-responder] conversations={len(threads)} "
        f"approved={len({e.event_id for e in approvals})} requests={len(server.calls)} "
        f"effects={sum(server.effects.values())} executed={len(executed)} resent={resent} "
        f"kills_in_flight={kills_in_flight}"
    )
    CHECKED.append(line)
    print(f"\n{line}")
    assert len(keys) == len(threads), line  # one approved action per conversation
    assert {k: server.effects_of(k) for k in keys} == dict.fromkeys(keys, 1), line
    assert set(server.effects) == keys, line  # nothing ran without an approval
    assert len(executed) == len(keys), line  # each announced under one event id
    assert all(len(replied(t)) == 1 for t in threads), line  # one reply each
    assert len(kills_in_flight) == ACTION_KILLS, line
    assert all(kills_in_flight), line  # every kill cut a call short
