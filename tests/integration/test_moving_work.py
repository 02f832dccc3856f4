"""Moving work through real Kafka, MongoDB and HTTP: transfers, a supervisor's assignment,
and a takeover that stops the AI mid-turn; every refusal with its status and code."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from baton_contracts import MessageSent, RouteDecided, ThreadAssigned, ToolHumanRequested
from tests.support.pipeline import ADMIN_TOKEN, Pipeline
from tests.support.queue import AgentClient, department, reply_rule, token
from tests.support.recorder import in_thread
from tests.support.waiting import eventually

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


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
    return AgentClient(http, body["agent_id"], name, tuple(body["departments"]), body["token"])


async def conversation(pipeline: Pipeline, agent: AgentClient, dept: str) -> tuple[str, str]:
    """A thread of ``dept`` the router gives to people, and its conversation ticket's id."""
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want to talk to a human {token()}")
    [ticket] = await agent.wait_for_ticket(thread_id, kind="conversation")
    return thread_id, ticket["ticket_id"]


async def test_a_transfer_moves_the_ticket_its_thread_and_a_note_or_is_refused(
    pipeline: Pipeline,
) -> None:
    http = pipeline.queue
    billing, shipping = department(), department()
    alex = await created(http, "Alex", billing)
    carl = await created(http, "Carl", billing)
    bo = await created(http, "Bo", shipping)
    dee = await created(http, "Dee", shipping, capacity=1)
    thread_id, ticket_id = await conversation(pipeline, alex, billing)
    await alex.act(ticket_id, "claim")
    url = f"/v1/tickets/{ticket_id}/transfer"

    await refused(await bo.post(url, {"department": shipping}), 403, "wrong_department")
    await refused(await carl.post(url, {"department": shipping}), 403, "not_holder")
    await refused(await alex.post(url, {"department": department()}), 404, "unknown_department")
    await refused(await alex.post(url, {"agent_id": "agent-nobody"}), 404, "unknown_agent")
    await refused(
        await alex.post(url, {"department": billing, "agent_id": bo.agent_id}),
        409,
        "agent_not_in_department",
    )
    _, other = await conversation(pipeline, dee, shipping)
    await dee.act(other, "claim")
    await refused(
        await alex.post(url, {"department": shipping, "agent_id": dee.agent_id}),
        409,
        "at_capacity",
    )
    await refused(await alex.post(url, {}), 422, "invalid_request")
    await refused(
        await alex.post(url, {"department": shipping, "owner": "x"}), 422, "invalid_request"
    )
    await refused(await http.post(url, json={"department": shipping}), 401, "unauthenticated")

    moved = await alex.post(url, {"department": shipping, "note": "Parcel lost in transit."})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["department"], moved.json()["status"]) == (shipping, "pending")
    assert (await alex.get("/v1/agents/me")).json()["open_tickets"] == 0
    await pipeline.recorder.wait_for(
        ThreadAssigned, lambda e: e.thread_id == thread_id and "transferred" in e.reason
    )

    async def moved_thread() -> dict[str, Any] | None:
        body: dict[str, Any] = (await bo.get(f"/v1/threads/{thread_id}/messages")).json()
        return body if body["thread"]["department"] == shipping and body["notes"] else None

    body = await eventually(moved_thread, what="the thread in shipping, with the note")
    assert [(n["text"], n["author"]["agent_id"]) for n in body["notes"]] == [
        ("Parcel lost in transit.", alex.agent_id)
    ]
    await refused(await alex.get(f"/v1/tickets/{ticket_id}"), 403, "wrong_department")

    # Bo takes it, resolves it; a resolved ticket moves nowhere.
    await bo.act(ticket_id, "claim")
    await bo.act(ticket_id, "resolve", {"handback": "none"})
    await refused(await bo.post(url, {"department": shipping}), 409, "wrong_state")


async def test_a_transfer_to_a_named_agent_gives_them_the_ticket(pipeline: Pipeline) -> None:
    http = pipeline.queue
    billing, shipping = department(), department()
    alex = await created(http, "Alex", billing)
    bo = await created(http, "Bo", shipping)
    thread_id, ticket_id = await conversation(pipeline, alex, billing)
    await alex.act(ticket_id, "claim")

    moved = await alex.act(ticket_id, "transfer", {"department": shipping, "agent_id": bo.agent_id})
    assert (moved["status"], moved["assigned_agent"]["agent_id"]) == ("assigned", bo.agent_id)
    assert (await bo.get("/v1/agents/me")).json()["ticket_ids"] == [ticket_id]
    await pipeline.recorder.wait_for(
        ThreadAssigned, lambda e: e.thread_id == thread_id and e.agent_id == bo.agent_id
    )


async def test_a_supervisor_assigns_over_a_claim(pipeline: Pipeline) -> None:
    http = pipeline.queue
    dept = department()
    alex = await created(http, "Alex", dept)
    bo = await created(http, "Bo", dept, capacity=1)
    sue = await created(http, "Sue", department(), role="supervisor")
    outsider = await created(http, "Out", department())
    _, ticket_id = await conversation(pipeline, alex, dept)
    await alex.act(ticket_id, "claim")
    url = f"/v1/tickets/{ticket_id}/assign"

    await refused(await alex.post(url, {"agent_id": bo.agent_id}), 403, "not_supervisor")
    await refused(await sue.post(url, {"agent_id": "agent-nobody"}), 404, "unknown_agent")
    await refused(
        await sue.post(url, {"agent_id": outsider.agent_id}), 409, "agent_not_in_department"
    )
    await refused(await sue.post(url, {}), 422, "invalid_request")
    await refused(
        await sue.post("/v1/tickets/no-such-ticket/assign", {"agent_id": bo.agent_id}),
        404,
        "unknown_ticket",
    )

    assigned = await sue.act(ticket_id, "assign", {"agent_id": bo.agent_id})
    assert assigned["assigned_agent"]["agent_id"] == bo.agent_id
    assert (await alex.get("/v1/agents/me")).json()["open_tickets"] == 0
    assert (await bo.get("/v1/agents/me")).json()["ticket_ids"] == [ticket_id]
    await refused(
        await alex.post(f"/v1/tickets/{ticket_id}/reply", {"text": "hi"}), 403, "not_holder"
    )

    # Bo is full: another ticket cannot be given to him.
    _, second = await conversation(pipeline, alex, dept)
    await refused(
        await sue.post(f"/v1/tickets/{second}/assign", {"agent_id": bo.agent_id}),
        409,
        "at_capacity",
    )
    await bo.act(ticket_id, "resolve", {"handback": "none"})
    await refused(await sue.post(url, {"agent_id": alex.agent_id}), 409, "wrong_state")


async def test_a_takeover_stops_the_ai_mid_turn(pipeline: Pipeline) -> None:
    http = pipeline.queue
    dept = department()
    tok = token()
    # The model takes its time (within the responder's 2 s timeout): the turn is in
    # flight when the supervisor steps in.
    await pipeline.script({**reply_rule(tok, "We open at 9 am."), "delay_ms": 1500})
    sue = await created(http, "Sue", department(), role="supervisor")
    alex = await created(http, "Alex", dept)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"When do you open? {tok}")

    async def in_flight() -> bool:
        calls = (await pipeline.model.get("/_calls", params={"contains": tok})).json()["calls"]
        return bool(calls)

    await eventually(in_flight, what="the model call in flight")
    url = f"/v1/threads/{thread_id}/takeover"
    await refused(await alex.post(url), 403, "not_supervisor")
    taken = await sue.post(url)
    assert taken.status_code == 200, taken.text
    ticket = taken.json()
    assert (ticket["kind"], ticket["status"], ticket["assigned_agent"]["agent_id"]) == (
        "conversation",
        "assigned",
        sue.agent_id,
    )
    [assigned] = await pipeline.recorder.wait_for(
        ThreadAssigned, lambda e: e.thread_id == thread_id and e.agent_id == sue.agent_id
    )
    assert (assigned.previous_owner, assigned.owner) == ("ai", "human")
    assert assigned.reason.startswith("takeover")

    # The reply the model finishes afterwards waits for approval instead of being sent.
    [held] = await pipeline.recorder.wait_for(
        ToolHumanRequested, lambda e: e.thread_id == thread_id and e.kind == "approval"
    )
    assert held.draft_text == "We open at 9 am."
    assert pipeline.recorder.events(MessageSent, in_thread(thread_id)) == []
    user_view = (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json()
    assert [m["role"] for m in user_view["messages"]] == ["user"]

    # Repeated, it finds the takeover done; another supervisor finds people own the thread.
    again = await sue.post(url)
    assert (again.status_code, again.json()["ticket_id"]) == (200, ticket["ticket_id"])
    sid = await created(http, "Sid", dept, role="supervisor")
    await refused(await sid.post(url), 409, "not_ai_owned")
    await refused(
        await sue.post(f"/v1/threads/t-{uuid.uuid4().hex}/takeover"), 404, "unknown_thread"
    )

    # The user's next message goes to the person, never to the model.
    await pipeline.say(thread_id, f"Hello? {tok}")
    routes = await pipeline.recorder.wait_for(RouteDecided, in_thread(thread_id), count=2)
    assert (routes[1].handler, routes[1].strategy) == ("human", "owner_flag")
    await sue.act(ticket["ticket_id"], "reply", {"text": "Sue here: we open at 9."})
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert (sent.provider, sent.text) == ("human", "Sue here: we open at 9.")
