"""The human team through real Kafka, MongoDB and HTTP: roles, agent administration, tokens,
presence, capacity, assignment policies, failover, and single assignment under load."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from baton_contracts import AgentStatusChanged, Event, ThreadAssigned, ToolHumanRequested, topics
from baton_conversations import Conversations
from baton_human_queue.cli import _parser, _run
from baton_runtime import (
    Document,
    KafkaEventPublisher,
    KafkaSettings,
    MongoSettings,
)
from tests.support.memory import MemoryPublisher
from tests.support.pipeline import ADMIN_TOKEN, Pipeline
from tests.support.queue import AgentClient, department, new_agent
from tests.support.served import ServedQueue, served_queue
from tests.support.waiting import eventually

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def question(thread_id: str, dept: str) -> ToolHumanRequested:
    return ToolHumanRequested.first(
        thread_id=thread_id,
        kind="question",
        request_id=uuid.uuid4(),
        message_id=uuid.uuid4(),
        reason="test question",
        question="Is it paid?",
        department=dept,
    )


async def refused(response: httpx.Response, status: int, code: str) -> None:
    assert (response.status_code, response.json().get("code")) == (status, code), response.text


async def created(
    http: httpx.AsyncClient, name: str, *departments: str, **fields: Any
) -> AgentClient:
    response = await http.post(
        "/v1/admin/agents",
        json={"name": name, "departments": list(departments), **fields},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return AgentClient(
        http=http,
        agent_id=body["agent_id"],
        name=name,
        departments=tuple(body["departments"]),
        token=body["token"],
    )


async def put(client: AgentClient, path: str, body: Any) -> httpx.Response:
    return await client.http.put(path, json=body, headers=client.headers)


# ------------------------------------------------------------------ on the shared pipeline


async def test_roles_and_agent_administration(pipeline: Pipeline) -> None:
    http = pipeline.queue
    dept, other = department(), department()
    alex = await created(http, "Alex", dept)
    sue = await created(http, "Sue", other, role="supervisor")
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.publish(question(thread_id, dept))
    [ticket] = await alex.wait_for_ticket(thread_id)

    # A supervisor sees and works every department; an agent only its own.
    [seen] = await sue.tickets(thread_id=thread_id)
    assert seen["ticket_id"] == ticket["ticket_id"]
    bo = await created(http, "Bo", other)
    await refused(await bo.get(f"/v1/tickets/{ticket['ticket_id']}"), 403, "wrong_department")

    # The admin moves Bo to Alex's department and makes him a supervisor with capacity 2.
    url = f"/v1/admin/agents/{bo.agent_id}"
    changed = await http.patch(
        url, json={"departments": [dept], "role": "supervisor", "capacity": 2}, headers=ADMIN
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["departments"], body["role"], body["capacity"]) == ([dept], "supervisor", 2)
    assert (await bo.get(f"/v1/tickets/{ticket['ticket_id']}")).status_code == 200
    reset = await http.patch(url, json={"capacity": None}, headers=ADMIN)
    assert (reset.json()["capacity"], reset.json()["own_capacity"]) == (5, None)

    await refused(
        await http.patch("/v1/admin/agents/agent-nobody", json={}, headers=ADMIN),
        404,
        "unknown_agent",
    )
    await refused(await http.patch(url, json={"name": "X"}, headers=ADMIN), 422, "invalid_request")
    await refused(
        await http.patch(url, json={"capacity": 0}, headers=ADMIN), 422, "invalid_request"
    )
    await refused(
        await http.patch(url, json={"role": "boss"}, headers=ADMIN), 422, "invalid_request"
    )
    await refused(
        await http.patch(url, json={"departments": ["a\u0001"]}, headers=ADMIN),
        422,
        "invalid_agent",
    )
    await refused(
        await http.patch(url, json={"active": False}, headers=alex.headers), 401, "invalid_token"
    )
    await refused(
        await http.post(
            "/v1/admin/agents",
            json={"name": "X", "departments": [dept], "role": "root"},
            headers=ADMIN,
        ),
        422,
        "invalid_request",
    )


async def test_token_rotation_and_deactivation_take_effect_at_once(pipeline: Pipeline) -> None:
    http = pipeline.queue
    dept = department()
    alex = await created(http, "Alex", dept)
    rotated = await http.post(f"/v1/admin/agents/{alex.agent_id}/token", headers=ADMIN)
    assert rotated.status_code == 200, rotated.text
    new_token = rotated.json()["token"]
    await refused(await alex.get("/v1/agents/me"), 401, "invalid_token")
    alex = AgentClient(http, alex.agent_id, "Alex", (dept,), new_token)
    assert (await alex.get("/v1/agents/me")).status_code == 200
    await refused(
        await http.post("/v1/admin/agents/agent-nobody/token", headers=ADMIN), 404, "unknown_agent"
    )

    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want to talk to a human {uuid.uuid4().hex}")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")
    await alex.act(ticket["ticket_id"], "claim")

    off = await http.patch(
        f"/v1/admin/agents/{alex.agent_id}", json={"active": False}, headers=ADMIN
    )
    assert off.status_code == 200, off.text
    assert (off.json()["active"], off.json()["open_tickets"]) == (False, 0)
    await refused(await alex.get("/v1/tickets"), 401, "invalid_token")

    bo = await created(http, "Bo", dept)
    back = (await bo.ticket(ticket["ticket_id"]))["ticket"]
    assert (back["status"], back["assigned_agent"]) == ("pending", None)
    await pipeline.recorder.wait_for(
        ThreadAssigned,
        lambda e: e.thread_id == thread_id and e.agent_id is None and "deactivated" in e.reason,
    )


async def test_capacity_refuses_claims_beyond_it(pipeline: Pipeline) -> None:
    http = pipeline.queue
    dept = department()
    alex = await created(http, "Alex", dept, capacity=1)
    threads = [await pipeline.new_thread(department=dept) for _ in range(2)]
    await pipeline.publish(*(question(t, dept) for t in threads))
    first, second = [(await alex.wait_for_ticket(t))[0] for t in threads]

    await alex.act(first["ticket_id"], "claim")
    await refused(await alex.post(f"/v1/tickets/{second['ticket_id']}/claim"), 409, "at_capacity")
    me = (await alex.get("/v1/agents/me")).json()
    assert (me["capacity"], me["open_tickets"], me["ticket_ids"]) == (1, 1, [first["ticket_id"]])

    await alex.act(first["ticket_id"], "release")
    assert (await alex.act(second["ticket_id"], "claim"))["status"] == "assigned"
    await alex.act(second["ticket_id"], "answer", {"text": "yes"})
    assert (await alex.get("/v1/agents/me")).json()["open_tickets"] == 0


async def test_presence_is_set_read_and_announced(pipeline: Pipeline) -> None:
    dept = department()
    alex = await new_agent(pipeline.queue, ADMIN_TOKEN, "Alex", dept)
    assert (await alex.get("/v1/agents/me")).json()["status"] == "offline"

    online = await put(alex, "/v1/agents/me/status", {"status": "online"})
    assert online.status_code == 200, online.text
    assert online.json()["status"] == "online"
    await put(alex, "/v1/agents/me/status", {"status": "away"})

    events = await pipeline.recorder.wait_for(
        AgentStatusChanged, lambda e: e.agent_id == alex.agent_id, count=2
    )
    assert [(e.previous_status, e.status, e.reason) for e in events] == [
        ("offline", "online", "set"),
        ("online", "away", "set"),
    ]
    assert events[0].departments == [dept]
    await refused(
        await put(alex, "/v1/agents/me/status", {"status": "busy"}), 422, "invalid_request"
    )
    await refused(
        await put(alex, "/v1/agents/me/status", {"status": "online", "agent_id": "x"}),
        422,
        "invalid_request",
    )
    await refused(await pipeline.queue.get("/v1/agents/me"), 401, "unauthenticated")


async def test_department_policies_are_set_by_the_admin(pipeline: Pipeline) -> None:
    http = pipeline.queue
    dept = department()
    response = await http.put(
        f"/v1/admin/departments/{dept}", json={"policy": "round_robin"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    listed = (await http.get("/v1/admin/departments", headers=ADMIN)).json()["departments"]
    assert {"department": dept, "policy": "round_robin"} in listed
    await refused(
        await http.put(f"/v1/admin/departments/{dept}", json={"policy": "random"}, headers=ADMIN),
        422,
        "invalid_request",
    )
    await refused(
        await http.put(f"/v1/admin/departments/{dept}", json={"policy": "manual"}),
        401,
        "unauthenticated",
    )


# ------------------------------------------------------------------ a quick team of its own


@dataclass
class QuickTeam(ServedQueue):
    """A human queue of its own: agents are away after 2 s of silence, tickets of an away
    agent move after 1 s untouched."""

    async def publish(self, *events: Event) -> None:
        await KafkaEventPublisher(self.producer, self.kafka).publish(events)

    async def thread(self, dept: str) -> str:
        conversations = Conversations(self.db, MemoryPublisher())
        thread = await conversations.open_thread(
            user_id="u-team", channel="web", department=dept, metadata={}
        )
        return thread.thread_id

    async def policy(self, dept: str, policy: str) -> None:
        response = await self.http.put(
            f"/v1/admin/departments/{dept}", json={"policy": policy}, headers=ADMIN
        )
        assert response.status_code == 200, response.text

    async def ticket_doc(self, thread_id: str) -> Document | None:
        return await self.db["tickets"].find_one({"thread_id": thread_id})


@pytest.fixture(scope="module")
async def team(
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_client: AsyncMongoClient[Document],
) -> AsyncIterator[QuickTeam]:
    async with served_queue(
        QuickTeam,
        kafka_settings,
        mongo_settings,
        mongo_client,
        name="team",
        watch=(
            topics.AGENT_STATUS_CHANGED,
            topics.THREAD_ASSIGNED,
        ),
        sweep_interval_s=0.2,
        away_after_s=2.0,
        failover_after_s=1.0,
        outbox_grace_s=1.0,
    ) as served:
        yield served


async def holder_of(team: QuickTeam, thread_id: str, *alive: AgentClient) -> str | None:
    """The agent holding the thread's ticket; ``alive`` agents make a request first, so a
    second of silence does not make them away while the test waits."""
    for member in alive:
        await member.get("/v1/agents/me")
    doc = await team.ticket_doc(thread_id)
    return doc["holder"]["agent_id"] if doc and doc.get("holder") else None


async def test_a_silent_agent_becomes_away_and_is_back_on_its_next_request(
    team: QuickTeam,
) -> None:
    alex = await created(team.http, "Alex", department())
    await put(alex, "/v1/agents/me/status", {"status": "online"})

    [idle] = await team.recorder.wait_for(
        AgentStatusChanged, lambda e: e.agent_id == alex.agent_id and e.reason == "idle"
    )
    assert (idle.previous_status, idle.status) == ("online", "away")
    assert (await alex.get("/v1/agents/me")).json()["status"] == "online"
    await team.recorder.wait_for(
        AgentStatusChanged, lambda e: e.agent_id == alex.agent_id and e.reason == "active"
    )


async def test_least_busy_assigns_new_tickets_and_waiting_ones_when_someone_comes_online(
    team: QuickTeam,
) -> None:
    dept = department()
    await team.policy(dept, "least_busy")
    alex = await created(team.http, "Alex", dept, capacity=1)
    first, second = await team.thread(dept), await team.thread(dept)

    # Nobody online: the ticket waits.
    await team.publish(question(first, dept))
    await eventually(lambda: team.ticket_doc(first), what="the first ticket")
    assert await holder_of(team, first) is None

    await put(alex, "/v1/agents/me/status", {"status": "online"})
    assert await eventually(
        lambda: _is(holder_of(team, first, alex), alex.agent_id), what="the waiting ticket assigned"
    )
    # Alex is full: the second waits until Alex resolves the first.
    await team.publish(question(second, dept))
    await eventually(lambda: team.ticket_doc(second), what="the second ticket")
    assert await holder_of(team, second) is None
    ticket_id = (await team.ticket_doc(first))["_id"]  # type: ignore[index]
    await alex.act(ticket_id, "answer", {"text": "yes"})
    assert await eventually(
        lambda: _is(holder_of(team, second, alex), alex.agent_id),
        what="the second ticket assigned",
    )


async def test_round_robin_takes_turns(team: QuickTeam) -> None:
    dept = department()
    await team.policy(dept, "round_robin")
    agents = [await created(team.http, name, dept) for name in ("Ann", "Ben")]
    for member in agents:
        await put(member, "/v1/agents/me/status", {"status": "online"})
    threads = []
    for _ in range(4):
        thread_id = await team.thread(dept)
        threads.append(thread_id)
        await team.publish(question(thread_id, dept))
        await eventually(lambda t=thread_id: holder_of(team, t, *agents), what="the assignment")  # type: ignore[misc]

    holders = [await holder_of(team, t) for t in threads]
    assert holders[0] != holders[1]
    assert holders[2] != holders[3]
    assert sorted(h or "" for h in holders) == sorted([a.agent_id for a in agents] * 2)


async def test_failover_moves_the_ticket_of_an_agent_who_went_away(team: QuickTeam) -> None:
    dept = department()
    await team.policy(dept, "least_busy")
    alex = await created(team.http, "Alex", dept)
    bo = await created(team.http, "Bo", dept)
    await put(alex, "/v1/agents/me/status", {"status": "online"})
    thread_id = await team.thread(dept)
    await team.publish(question(thread_id, dept))
    assert await eventually(
        lambda: _is(holder_of(team, thread_id, alex), alex.agent_id), what="Alex's"
    )
    await put(alex, "/v1/agents/me/status", {"status": "offline"})
    await put(bo, "/v1/agents/me/status", {"status": "online"})

    # Bo keeps making requests: online, while Alex stays silent and offline.
    assert await eventually(lambda: _is(holder_of(team, thread_id, bo), bo.agent_id), what="Bo's")
    me = (await alex.get("/v1/agents/me")).json()
    assert me["open_tickets"] == 0


async def test_many_tickets_and_agents_at_once_one_holder_each_never_above_capacity(
    team: QuickTeam,
) -> None:
    dept = department()
    await team.policy(dept, "least_busy")
    members = await asyncio.gather(
        *(created(team.http, f"Agent {i}", dept, capacity=3) for i in range(8))
    )
    threads = await asyncio.gather(*(team.thread(dept) for _ in range(40)))
    # Tickets arrive while every agent comes online, each agent also claiming by hand.
    await asyncio.gather(
        team.publish(*(question(t, dept) for t in threads)),
        *(put(m, "/v1/agents/me/status", {"status": "online"}) for m in members),
    )

    async def pending() -> list[Document]:
        return await team.db["tickets"].find({"department": dept}).to_list()

    async def grab(member: AgentClient) -> None:
        for doc in await pending():
            await member.post(f"/v1/tickets/{doc['_id']}/claim")

    await asyncio.gather(*(grab(m) for m in members))

    async def settled() -> list[Document] | None:
        # Requests keep everyone online: silent agents would be away, and their tickets move.
        await asyncio.gather(*(m.get("/v1/agents/me") for m in members))
        docs = await pending()
        assigned = [d for d in docs if d["status"] == "assigned"]
        return docs if len(docs) == 40 and len(assigned) == 24 else None

    docs = await eventually(settled, what="24 of 40 tickets assigned")
    await asyncio.gather(*(m.get("/v1/agents/me") for m in members))
    agents = await team.db["agents"].find({"_id": {"$in": [m.agent_id for m in members]}}).to_list()
    slots = [(a["_id"], s["ticket_id"], s["claim_id"]) for a in agents for s in a["slots"]]
    assert all(len(a["slots"]) <= 3 for a in agents)
    held = {
        d["_id"]: (d["holder"]["agent_id"], d["claim_id"])
        for d in docs
        if d["status"] == "assigned"
    }
    # One slot per assigned ticket, the holder's, under the ticket's claim: no ticket twice.
    assert sorted((t, (a, c)) for a, t, c in slots) == sorted(held.items())
    open_claims = (
        await team.db["claims"].find({"ticket_id": {"$in": list(held)}, "ended_at": None}).to_list()
    )
    assert sorted(c["ticket_id"] for c in open_claims) == sorted(held)


async def _is(value: Any, expected: Any) -> bool:
    return bool((await value) == expected)


async def test_the_cli_updates_agents_and_rotates_tokens(
    pipeline: Pipeline, mongo_settings: MongoSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    alex = await created(pipeline.queue, "Alex", department())
    dept = department()
    update = _parser().parse_args(
        [
            "agents",
            "update",
            alex.agent_id,
            "--department",
            dept,
            "--role",
            "supervisor",
            "--capacity",
            "3",
        ]
    )
    assert await _run(update, mongo_settings) == 0
    me = (await alex.get("/v1/agents/me")).json()
    assert (me["departments"], me["role"], me["capacity"]) == ([dept], "supervisor", 3)

    rotate = _parser().parse_args(["agents", "rotate-token", alex.agent_id])
    capsys.readouterr()
    assert await _run(rotate, mongo_settings) == 0
    token = capsys.readouterr().out.strip()
    await refused(await alex.get("/v1/agents/me"), 401, "invalid_token")
    renewed = AgentClient(pipeline.queue, alex.agent_id, "Alex", (dept,), token)
    assert (await renewed.get("/v1/agents/me")).status_code == 200

    off = _parser().parse_args(["agents", "update", alex.agent_id, "--deactivate"])
    assert await _run(off, mongo_settings) == 0
    await refused(await renewed.get("/v1/agents/me"), 401, "invalid_token")
    missing = _parser().parse_args(["agents", "rotate-token", "agent-nobody"])
    assert await _run(missing, mongo_settings) == 2
