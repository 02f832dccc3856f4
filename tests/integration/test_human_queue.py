"""The human queue through real Kafka, MongoDB and HTTP: tickets, claims, leases, access."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from baton_contracts import (
    Event,
    HumanAgent,
    HumanResponded,
    MessageSent,
    RouteDecided,
    ThreadAssigned,
    TicketLeaseExpired,
    TicketSlaBreached,
    ToolHumanRequested,
    topics,
)
from baton_conversations import Conversations
from baton_runtime import (
    Document,
    KafkaEventPublisher,
    KafkaSettings,
    MongoSettings,
    Outbox,
    publishing,
)
from tests.support.memory import MemoryPublisher
from tests.support.pipeline import ADMIN_TOKEN, Pipeline
from tests.support.queue import AgentClient, department, new_agent, token
from tests.support.recorder import in_thread
from tests.support.served import ServedQueue, served_queue
from tests.support.waiting import eventually


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def agent(pipeline: Pipeline, name: str, *departments: str) -> AgentClient:
    return await new_agent(pipeline.queue, pipeline.admin_token, name, *departments)


async def conversation_ticket(
    pipeline: Pipeline, alex: AgentClient, dept: str | None
) -> tuple[str, dict[str, Any]]:
    """A thread the router gives to people, and its conversation ticket."""
    fields = {"department": dept} if dept else {}
    thread_id = await pipeline.new_thread(**fields)
    await pipeline.say(thread_id, f"I want to talk to a human {token()}")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")
    return thread_id, ticket


def request(thread_id: str, kind: str, **fields: Any) -> ToolHumanRequested:
    defaults: dict[str, Any] = {
        "request_id": uuid.uuid4(),
        "message_id": uuid.uuid4(),
        "reason": f"test {kind}",
    }
    return ToolHumanRequested.first(thread_id=thread_id, kind=kind, **{**defaults, **fields})


async def test_a_thread_given_to_people_has_one_ticket_for_all_its_messages(
    pipeline: Pipeline,
) -> None:
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    thread_id = await pipeline.new_thread(department=dept)
    first = await pipeline.say(thread_id, f"I want to talk to a human {token()}")

    [ticket] = await alex.wait_for_ticket(thread_id)
    assert (ticket["kind"], ticket["status"], ticket["department"]) == (
        "conversation",
        "pending",
        dept,
    )
    assert ticket["user_message_id"] == str(first)
    assert ticket["priority"] == 0
    assert "asks-for-human" in ticket["reason"]

    second = await pipeline.say(thread_id, f"Hello, anyone? {token()}")

    async def attached() -> list[dict[str, Any]] | None:
        found = await alex.tickets(thread_id=thread_id)
        return found if found and len(found[0]["message_ids"]) == 2 else None

    [ticket] = await eventually(attached, what="the second message on the open ticket")
    assert ticket["message_ids"] == [str(first), str(second)]

    # Kafka delivers the routing decisions again: no second ticket, nothing attached twice.
    await pipeline.publish(*pipeline.recorder.events(RouteDecided, in_thread(thread_id)))
    third = await pipeline.say(thread_id, f"Still there? {token()}")

    async def three() -> list[dict[str, Any]] | None:
        found = await alex.tickets(thread_id=thread_id, status="all")
        return found if any(len(t["message_ids"]) == 3 for t in found) else None

    found = await eventually(three, what="the third message on the open ticket")
    assert len(found) == 1
    assert found[0]["message_ids"] == [str(first), str(second), str(third)]


async def test_queue_order_and_department_visibility(pipeline: Pipeline) -> None:
    dept, other = department(), department()
    alex = await agent(pipeline, "Alex", dept)
    bo = await agent(pipeline, "Bo", other)
    plain = await pipeline.new_thread(department=dept)
    vip = await pipeline.new_thread(department=dept, metadata={"tier": "vip"})
    later = await pipeline.new_thread(department=dept)
    shared = await pipeline.new_thread()

    await pipeline.publish(request(plain, "question", question="Is order 1 paid?"))
    [oldest_question] = await alex.wait_for_ticket(plain, kind="question")
    await pipeline.publish(
        request(plain, "escalation", suggestion="Offer a voucher"),
        request(plain, "approval", draft_message_id=uuid.uuid4(), draft_text="Refund sent."),
        request(later, "question", question="Is order 2 paid?"),
        RouteDecided.first(
            thread_id=vip,
            message_id=uuid.uuid4(),
            handler="human",
            strategy="rule",
            reason="VIP customers are served by people",
            text="hi",
            department=dept,
            user_tier="vip",
        ),
        request(shared, "question", question="Anyone?"),
    )
    await alex.wait_for_ticket(shared)

    async def all_five() -> list[dict[str, Any]] | None:
        found = await alex.tickets(department=dept)
        return found if len(found) == 5 else None

    queue = await eventually(all_five, what="five tickets in the department")
    assert [(t["kind"], t["priority"]) for t in queue] == [
        ("conversation", 50),  # VIP
        ("approval", 30),
        ("question", 20),
        ("question", 20),
        ("escalation", 10),
    ]
    assert queue[2]["ticket_id"] == oldest_question["ticket_id"]  # equal priority: oldest first
    assert queue[3]["thread_id"] == later
    assert queue[0]["sla_due_at"] < queue[4]["sla_due_at"]  # a higher priority, a shorter SLA

    # Bo serves another department: sees the ticket without department, none of Alex's.
    mine = {t["ticket_id"] for t in queue}
    seen_by_bo = {t["ticket_id"] for t in await bo.tickets(limit=500)}
    assert not mine & seen_by_bo
    [unassigned] = await bo.tickets(thread_id=shared)
    assert unassigned["department"] is None
    assert (await bo.post(f"/v1/tickets/{unassigned['ticket_id']}/claim")).status_code == 200

    forbidden = await bo.get("/v1/tickets", department=dept)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "wrong_department")


async def test_claiming_assigns_the_thread_and_activity_renews_the_lease(
    pipeline: Pipeline,
) -> None:
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    thread_id, ticket = await conversation_ticket(pipeline, alex, dept)
    ticket_id = ticket["ticket_id"]

    claimed = await alex.act(ticket_id, "claim")
    assert claimed["status"] == "assigned"
    assert claimed["assigned_agent"] == {
        "agent_id": alex.agent_id,
        "name": "Alex",
        "department": dept,
    }
    lease = at(claimed["lease_expires_at"])
    assert lease - at(claimed["claimed_at"]) == timedelta(seconds=600)

    [assigned] = await pipeline.recorder.wait_for(
        ThreadAssigned, lambda e: e.thread_id == thread_id and e.agent_id == alex.agent_id
    )
    assert (assigned.owner, assigned.previous_owner) == ("human", "human")
    thread = (await alex.get(f"/v1/threads/{thread_id}/messages")).json()["thread"]
    assert (thread["owner"], thread["assigned_agent"]) == ("human", alex.agent_id)

    await asyncio.sleep(0.05)
    looked = (await alex.ticket(ticket_id))["ticket"]
    assert at(looked["lease_expires_at"]) > lease
    renewed = await alex.act(ticket_id, "claim")  # the holder claiming again renews
    assert at(renewed["lease_expires_at"]) >= at(looked["lease_expires_at"])
    assert renewed["claimed_at"] == claimed["claimed_at"]


async def test_fifty_concurrent_claims_have_exactly_one_winner(pipeline: Pipeline) -> None:
    dept = department()
    first = await agent(pipeline, "Agent 0", dept)
    thread_id, ticket = await conversation_ticket(pipeline, first, dept)
    agents = [
        first,
        *await asyncio.gather(*(agent(pipeline, f"Agent {i}", dept) for i in range(1, 50))),
    ]

    responses = await asyncio.gather(
        *(a.post(f"/v1/tickets/{ticket['ticket_id']}/claim") for a in agents)
    )

    winners = [a for a, r in zip(agents, responses, strict=True) if r.status_code == 200]
    assert len(winners) == 1, [r.status_code for r in responses]
    [winner] = winners
    losers = [r for r in responses if r.status_code != 200]
    assert [r.status_code for r in losers] == [409] * 49
    for response in losers:
        assert response.json()["code"] == "already_claimed"
        assert f"claimed by {winner.name}" in response.json()["detail"]
    held = (await winner.ticket(ticket["ticket_id"]))["ticket"]
    assert held["assigned_agent"]["agent_id"] == winner.agent_id
    await pipeline.recorder.wait_for(
        ThreadAssigned, lambda e: e.thread_id == thread_id and e.agent_id is not None
    )
    await asyncio.sleep(0.3)
    claims = pipeline.recorder.events(
        ThreadAssigned, lambda e: e.thread_id == thread_id and e.agent_id is not None
    )
    assert [e.agent_id for e in claims] == [winner.agent_id]


async def test_a_person_replies_in_the_thread_under_their_own_name(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    thread_id, ticket = await conversation_ticket(pipeline, alex, dept)
    ticket_id = ticket["ticket_id"]
    await alex.act(ticket_id, "claim")

    path = f"/v1/tickets/{ticket_id}/reply"
    body = {"text": "Hi, I'm Alex from billing. Let me check that for you."}
    first = await alex.post(path, body, headers={"Idempotency-Key": "reply-1"})
    again = await alex.post(path, body, headers={"Idempotency-Key": "reply-1"})
    assert first.status_code == again.status_code == 200, first.text
    message_id = first.json()["message_id"]
    assert again.json()["message_id"] == message_id

    [responded] = await pipeline.recorder.wait_for(HumanResponded, in_thread(thread_id))
    assert (responded.kind, responded.ticket_id, str(responded.message_id)) == (
        "reply",
        ticket_id,
        message_id,
    )
    assert (responded.agent.agent_id, responded.agent.name, responded.agent.department) == (
        alex.agent_id,
        "Alex",
        dept,
    )
    assert responded.response_time_ms is not None
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert (sent.text, sent.agent_name, sent.provider) == (body["text"], "Alex", "human")
    assert str(sent.message_id) == message_id
    assert str(sent.in_reply_to) == ticket["user_message_id"]

    stored = await mongo_client[pipeline.mongo.database]["messages"].find_one({"_id": message_id})
    assert stored is not None
    assert (stored["role"], stored["agent_name"], stored["content"]) == (
        "assistant",
        "Alex",
        body["text"],
    )
    assert stored["metadata"]["provider"] == "human"
    assert stored["metadata"]["provider_metadata"]["human"] == {
        "agent_id": alex.agent_id,
        "name": "Alex",
        "department": dept,
        "response_time_ms": responded.response_time_ms,
    }
    visible = (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    assert [(m["role"], m["agent_name"], m["provider"]) for m in visible] == [
        ("user", None, "user"),
        ("assistant", "Alex", "human"),
    ]

    await alex.act(ticket_id, "reply", {"text": "Found it: it ships today."})
    sent_all = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id), count=2)
    await asyncio.sleep(0.3)
    sent_all = pipeline.recorder.events(MessageSent, in_thread(thread_id))
    assert [e.text for e in sent_all] == [body["text"], "Found it: it ships today."]
    held = (await alex.ticket(ticket_id))["ticket"]
    assert held["first_response_at"] is not None
    assert held["status"] == "assigned"


async def test_release_puts_the_ticket_back_at_once(pipeline: Pipeline) -> None:
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    bo = await agent(pipeline, "Bo", dept)
    thread_id, ticket = await conversation_ticket(pipeline, alex, dept)
    ticket_id = ticket["ticket_id"]
    await alex.act(ticket_id, "claim")

    released = await alex.act(ticket_id, "release")
    assert (released["status"], released["assigned_agent"], released["lease_expires_at"]) == (
        "pending",
        None,
        None,
    )
    await pipeline.recorder.wait_for(
        ThreadAssigned,
        lambda e: e.thread_id == thread_id and e.agent_id is None and "released" in e.reason,
    )
    taken = await bo.act(ticket_id, "claim")
    assert taken["assigned_agent"]["name"] == "Bo"
    refused = await alex.post(f"/v1/tickets/{ticket_id}/reply", {"text": "me again"})
    assert (refused.status_code, refused.json()["code"]) == (403, "not_holder")


async def test_a_threads_ownership_log_follows_its_owner_changes(pipeline: Pipeline) -> None:
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    bo = await agent(pipeline, "Bo", department())
    thread_id, ticket = await conversation_ticket(pipeline, alex, dept)
    await alex.act(ticket["ticket_id"], "claim")
    await alex.act(ticket["ticket_id"], "resolve", {"handback": "ai"})

    async def logged() -> list[dict[str, Any]] | None:
        response = await alex.get(f"/v1/threads/{thread_id}/ownership")
        assert response.status_code == 200, response.text
        changes: list[dict[str, Any]] = response.json()["changes"]
        return changes if len(changes) == 3 else None

    changes = await eventually(logged, what="three ownership changes")
    assert [(c["previous_owner"], c["owner"], c["agent_id"]) for c in changes] == [
        ("ai", "human", None),  # the router gave the thread to people
        ("human", "human", alex.agent_id),
        ("human", "ai", None),
    ]
    assert changes[1]["reason"] == f"Alex claimed ticket {ticket['ticket_id']}"
    refused = await bo.get(f"/v1/threads/{thread_id}/ownership")
    assert (refused.status_code, refused.json()["code"]) == (403, "wrong_department")
    unknown = await alex.get("/v1/threads/no-such-thread/ownership")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_thread")


async def test_every_access_rule_is_enforced(pipeline: Pipeline) -> None:
    dept, other = department(), department()
    alex = await agent(pipeline, "Alex", dept)
    sam = await agent(pipeline, "Sam", dept)
    bo = await agent(pipeline, "Bo", other)
    thread_id, ticket = await conversation_ticket(pipeline, alex, dept)
    url = f"/v1/tickets/{ticket['ticket_id']}"
    http = pipeline.queue

    async def refused(response: httpx.Response, status: int, code: str, fragment: str) -> None:
        assert response.status_code == status, response.text
        body = response.json()
        assert body["code"] == code, body
        assert fragment in body["detail"], body

    # 401: no token, a made-up token, the admin token where an agent's is needed, and back.
    await refused(await http.get("/v1/tickets"), 401, "unauthenticated", "Bearer")
    bad = {"Authorization": "Bearer bq_not-a-real-token"}
    await refused(await http.get("/v1/tickets", headers=bad), 401, "invalid_token", "not a valid")
    basic = {"Authorization": "Basic YWxleDpzZWNyZXQ="}
    await refused(await http.get(url, headers=basic), 401, "unauthenticated", "Bearer")
    admin = {"Authorization": f"Bearer {pipeline.admin_token}"}
    await refused(await http.get(url, headers=admin), 401, "invalid_token", "agent token")
    await refused(
        await alex.post("/v1/admin/agents", {"name": "Mallory", "departments": [dept]}),
        401,
        "invalid_token",
        "admin token",
    )
    await refused(await alex.get("/v1/admin/feedback.jsonl"), 401, "invalid_token", "admin")

    # 404: no such ticket or thread.
    await refused(await alex.get("/v1/tickets/no-such-ticket"), 404, "unknown_ticket", "does not")
    await refused(
        await alex.post("/v1/tickets/no-such-ticket/claim"), 404, "unknown_ticket", "does not"
    )
    await refused(
        await alex.get("/v1/threads/no-such-thread/messages"), 404, "unknown_thread", "does not"
    )

    # 403: another department's ticket and thread, for reading and for acting.
    await refused(await bo.get(url), 403, "wrong_department", "does not serve")
    await refused(await bo.post(f"{url}/claim"), 403, "wrong_department", "does not serve")
    await refused(
        await bo.get(f"/v1/threads/{thread_id}/messages"), 403, "wrong_department", "does not"
    )

    # 403: acting on a ticket nobody holds, or someone else holds.
    await refused(await alex.post(f"{url}/reply", {"text": "hi"}), 403, "not_holder", "claim it")
    await alex.act(ticket["ticket_id"], "claim")
    await refused(await sam.post(f"{url}/reply", {"text": "hi"}), 403, "not_holder", "Alex")
    await refused(await sam.post(f"{url}/resolve", {"handback": "ai"}), 403, "not_holder", "Alex")
    await refused(await sam.post(f"{url}/release"), 403, "not_holder", "Alex")

    # 409: claimed already, the wrong kind of ticket, a resolved ticket.
    await refused(await sam.post(f"{url}/claim"), 409, "already_claimed", "claimed by Alex")
    await refused(await alex.post(f"{url}/answer", {"text": "42"}), 409, "wrong_kind", "question")
    await refused(await alex.post(f"{url}/approve"), 409, "wrong_kind", "approval")
    await refused(await alex.post(f"{url}/reject", {"review": "no"}), 409, "wrong_kind", "approval")

    # 422: bodies that are invalid, or try to set what the caller may not.
    await refused(await alex.post(f"{url}/reply", {"text": ""}), 422, "invalid_request", "text")
    await refused(
        await alex.post(f"{url}/reply", {"text": "   "}), 422, "invalid_text", "text is empty"
    )
    await refused(
        await alex.post(f"{url}/reply", {"text": "hi", "agent_name": "The CEO"}),
        422,
        "invalid_request",
        "agent_name",
    )
    await refused(
        await alex.post(f"{url}/resolve", {"handback": "ai", "status": "pending"}),
        422,
        "invalid_request",
        "status",
    )
    await refused(
        await alex.post(f"{url}/resolve", {"handback": "someone"}), 422, "invalid_request", "ai"
    )
    await refused(await alex.post(f"{url}/reply", {}), 422, "invalid_request", "text")
    await refused(
        await http.post("/v1/admin/agents", json={"name": "X", "departments": []}, headers=admin),
        422,
        "invalid_request",
        "departments",
    )

    await alex.act(ticket["ticket_id"], "resolve", {"handback": "none"})
    await refused(await sam.post(f"{url}/claim"), 409, "wrong_state", "resolved")
    await refused(await alex.post(f"{url}/reply", {"text": "late"}), 409, "wrong_state", "resolved")


async def test_bad_input_on_the_queue_topics_is_dead_lettered(pipeline: Pipeline) -> None:
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    thread_id = await pipeline.new_thread(department=dept)
    key = thread_id.encode()
    await pipeline.publish_raw(topics.TOOL_HUMAN_REQUESTED, b"{not json", key=key)
    await pipeline.publish_raw(
        topics.TOOL_HUMAN_REQUESTED,
        request("no-such-thread", "question").model_dump_json().encode(),
        key=key,
    )
    await pipeline.publish(request(thread_id, "question", question="after the poison"))

    [ticket] = await alex.wait_for_ticket(thread_id)
    assert ticket["question"] == "after the poison"
    dlq = pipeline.kafka.topic(topics.dead_letter_topic(topics.TOOL_HUMAN_REQUESTED))

    async def letters() -> list[Any] | None:
        found = [s for s in pipeline.recorder.records if s.topic == dlq and s.key == key]
        return found if len(found) >= 2 else None

    found = await eventually(letters, what="two dead letters")
    assert [s.headers["dlq-error-code"] for s in found] == ["invalid_json", "unknown_thread"]
    assert {s.headers["dlq-service"] for s in found} == {"baton-human-queue"}
    assert "no-such-thread" in found[1].headers["dlq-reason"]


# ------------------------------------------------------------------ short leases and SLAs


@dataclass
class ShortLease(ServedQueue):
    """A human queue of its own whose claims last one second and whose SLA is one second."""

    @property
    def conversations(self) -> Conversations:
        # Only opens and reads threads here: nothing goes through its outbox.
        return Conversations(self.db, MemoryPublisher())

    async def publish(self, event: Event) -> None:
        await KafkaEventPublisher(self.producer, self.kafka).publish([event])

    async def thread(self, dept: str) -> str:
        thread = await self.conversations.open_thread(
            user_id="u-lease", channel="web", department=dept, metadata={}
        )
        return thread.thread_id


@pytest.fixture(scope="module")
async def short_lease(
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_client: AsyncMongoClient[Document],
) -> AsyncIterator[ShortLease]:
    async with served_queue(
        ShortLease,
        kafka_settings,
        mongo_settings,
        mongo_client,
        name="lease",
        watch=(
            topics.TICKET_LEASE_EXPIRED,
            topics.TICKET_SLA_BREACHED,
        ),
        lease_s=1.0,
        sla_s={0: 1.0},
        sweep_interval_s=0.2,
    ) as served:
        yield served


async def test_an_expired_lease_returns_the_ticket_to_the_queue(short_lease: ShortLease) -> None:
    dept = department()
    alex = await new_agent(short_lease.http, ADMIN_TOKEN, "Alex", dept)
    bo = await new_agent(short_lease.http, ADMIN_TOKEN, "Bo", dept)
    thread_id = await short_lease.thread(dept)
    await short_lease.publish(request(thread_id, "escalation", department=dept))
    [ticket] = await alex.wait_for_ticket(thread_id)
    claimed = await alex.act(ticket["ticket_id"], "claim")
    held = await short_lease.conversations.get_thread(thread_id)
    assert held is not None
    assert held.assigned_agent == alex.agent_id

    [expired] = await short_lease.recorder.wait_for(
        TicketLeaseExpired, lambda e: e.ticket_id == ticket["ticket_id"], timeout=15
    )
    assert (expired.agent.agent_id, expired.agent.name, expired.kind) == (
        alex.agent_id,
        "Alex",
        "escalation",
    )
    assert expired.claimed_at == at(claimed["claimed_at"])
    back = (await bo.ticket(ticket["ticket_id"]))["ticket"]
    assert (back["status"], back["assigned_agent"]) == ("pending", None)
    thread = await short_lease.conversations.get_thread(thread_id)
    assert thread is not None
    assert (thread.owner, thread.assigned_agent) == ("human", None)

    late = await alex.post(f"/v1/tickets/{ticket['ticket_id']}/reply", {"text": "sorry, back"})
    assert (late.status_code, late.json()["code"]) == (403, "not_holder")
    assert (await bo.act(ticket["ticket_id"], "claim"))["assigned_agent"]["name"] == "Bo"

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    report = (await short_lease.http.get("/v1/admin/labour", headers=admin)).json()
    [row] = [t for t in report["tickets"] if t["ticket_id"] == ticket["ticket_id"]]
    assert [(c["agent_name"], c["outcome"]) for c in row["claims"]] == [
        ("Alex", "expired"),
        ("Bo", None),
    ]
    assert row["time_to_claim_ms"] is not None


async def test_a_document_the_queue_cannot_read_does_not_stop_the_sweep(
    short_lease: ShortLease,
) -> None:
    tickets = short_lease.db["tickets"]
    # Met before the real ticket whether the sweep reads in _id or in insertion order.
    unreadable = {
        "_id": "!unreadable",
        "status": "assigned",
        "lease_expires_at": datetime(2020, 1, 1, tzinfo=UTC),
    }
    await tickets.insert_one(unreadable)
    try:
        dept = department()
        alex = await new_agent(short_lease.http, ADMIN_TOKEN, "Alex", dept)
        thread_id = await short_lease.thread(dept)
        await short_lease.publish(request(thread_id, "escalation", department=dept))
        [ticket] = await alex.wait_for_ticket(thread_id)
        await alex.act(ticket["ticket_id"], "claim")

        [expired] = await short_lease.recorder.wait_for(
            TicketLeaseExpired, lambda e: e.ticket_id == ticket["ticket_id"], timeout=15
        )

        assert expired.agent.agent_id == alex.agent_id
        assert (await alex.ticket(ticket["ticket_id"]))["ticket"]["status"] == "pending"
    finally:
        await tickets.delete_one({"_id": unreadable["_id"]})


async def test_the_sweep_carries_out_what_a_crash_left_on_a_ticket(
    short_lease: ShortLease,
) -> None:
    dept = department()
    alex = await new_agent(short_lease.http, ADMIN_TOKEN, "Alex", dept)
    thread_id = await short_lease.thread(dept)
    await short_lease.publish(request(thread_id, "approval", draft_message_id=uuid.uuid4()))
    [ticket] = await alex.wait_for_ticket(thread_id)
    # A change stored with its follow-up, by a process that stopped before carrying it out.
    left = TicketLeaseExpired.first(
        thread_id=thread_id,
        ticket_id=ticket["ticket_id"],
        kind="approval",
        agent=HumanAgent(agent_id=alex.agent_id, name="Alex"),
        claimed_at=datetime(2026, 1, 1, tzinfo=UTC),
        lease_expired_at=datetime(2026, 1, 1, 0, 10, tzinfo=UTC),
    )
    outbox = Outbox(MemoryPublisher())
    long_ago = datetime(2026, 1, 1, tzinfo=UTC)
    await short_lease.db["tickets"].update_one(
        {"_id": ticket["ticket_id"]}, outbox.push([publishing(left)], now=long_ago)
    )

    [found] = await short_lease.recorder.wait_for(
        TicketLeaseExpired, lambda e: e.event_id == left.event_id, timeout=15
    )

    assert found == left

    async def cleared() -> Document | None:
        doc = await short_lease.db["tickets"].find_one({"_id": ticket["ticket_id"]})
        return doc if doc is not None and not doc.get("outbox") else None

    assert await eventually(cleared, what="the follow-up off the ticket")


async def test_an_sla_breach_is_reported_once(short_lease: ShortLease) -> None:
    dept = department()
    alex = await new_agent(short_lease.http, ADMIN_TOKEN, "Alex", dept)
    first = await short_lease.thread(dept)
    await short_lease.publish(request(first, "question", question="Q?", department=dept))
    [ticket] = await alex.wait_for_ticket(first)

    [breach] = await short_lease.recorder.wait_for(
        TicketSlaBreached, lambda e: e.ticket_id == ticket["ticket_id"], timeout=15
    )
    assert (breach.kind, breach.status, breach.priority) == ("question", "pending", 20)
    assert breach.sla_due_at == at(ticket["sla_due_at"])
    flagged = (await alex.ticket(ticket["ticket_id"]))["ticket"]
    assert flagged["sla_breached"] is True

    # A later ticket breaching proves the sweep ran on; the first is not reported again.
    second = await short_lease.thread(dept)
    await short_lease.publish(request(second, "question", question="Q2?", department=dept))
    [later] = await alex.wait_for_ticket(second)
    await short_lease.recorder.wait_for(
        TicketSlaBreached, lambda e: e.ticket_id == later["ticket_id"], timeout=15
    )
    breaches = short_lease.recorder.events(
        TicketSlaBreached, lambda e: e.ticket_id == ticket["ticket_id"]
    )
    assert len(breaches) == 1


async def test_health_metrics_and_openapi(pipeline: Pipeline) -> None:
    http = pipeline.queue
    assert (await http.get("/health/live")).json() == {"status": "ok"}
    ready = await http.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"kafka": "ok", "mongodb": "ok"}
    metrics = (await http.get("/metrics")).text
    for name in ("baton_queue_open_tickets", "baton_queue_claims_total", "baton_queue_sla_"):
        assert name in metrics
    spec = (await http.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["agentToken"]["scheme"] == "bearer"
    claim = spec["paths"]["/v1/tickets/{ticket_id}/claim"]["post"]
    assert claim["security"] == [{"agentToken": []}]
    assert {"401", "403", "404", "409"} <= set(claim["responses"])
    assert (await http.get("/docs")).status_code == 200
