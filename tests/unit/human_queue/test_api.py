"""The agent API over the use cases and in-memory stores: status codes, bodies, and the
ownership route."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from baton_human_queue.agents import Agents
from baton_human_queue.api import api_router
from baton_runtime import install_error_handlers

from .conftest import ALEX, Queue

ADMIN = "admin-token-0123456789"


@dataclass
class Http:
    client: httpx.AsyncClient
    alex: dict[str, str]
    bo: dict[str, str]
    admin: dict[str, str]


@pytest.fixture
async def http(queue: Queue) -> AsyncIterator[Http]:
    agents = Agents(queue.agents)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(
        api_router(
            agents=agents,
            admin_token=SecretStr(ADMIN),
            reading=queue.reading,
            claims=queue.claims,
            holder=queue.holder,
            reports=queue.reports,
        )
    )
    alex = await agents.create("Alex", ["billing"])
    bo = await agents.create("Bo", ["shipping"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://queue.test") as client:
        yield Http(
            client,
            alex={"Authorization": f"Bearer {alex.token}"},
            bo={"Authorization": f"Bearer {bo.token}"},
            admin={"Authorization": f"Bearer {ADMIN}"},
        )


async def test_a_threads_ownership_oldest_first(queue: Queue, http: Http) -> None:
    ticket = await queue.conversation()
    claimed = await http.client.post(f"/v1/tickets/{ticket.ticket_id}/claim", headers=http.alex)
    assert claimed.status_code == 200, claimed.text
    queue.clock.advance(minutes=1)
    resolve = f"/v1/tickets/{ticket.ticket_id}/resolve"
    assert (
        await http.client.post(resolve, json={"handback": "ai"}, headers=http.alex)
    ).status_code == 200
    await queue.record_ownership()

    response = await http.client.get(f"/v1/threads/{ticket.thread_id}/ownership", headers=http.alex)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["thread_id"] == ticket.thread_id
    agent_id = claimed.json()["assigned_agent"]["agent_id"]
    assert [(c["previous_owner"], c["owner"], c["agent_id"]) for c in body["changes"]] == [
        ("ai", "human", agent_id),
        ("human", "ai", None),
    ]
    assert set(body["changes"][0]) == {"at", "owner", "previous_owner", "agent_id", "reason"}
    assert body["changes"][1]["reason"].endswith("handed the thread back to the AI")


async def test_ownership_follows_the_threads_department_rule(queue: Queue, http: Http) -> None:
    ticket = await queue.conversation()
    path = f"/v1/threads/{ticket.thread_id}/ownership"

    other = await http.client.get(path, headers=http.bo)
    assert (other.status_code, other.json()["code"]) == (403, "wrong_department")
    unknown = await http.client.get("/v1/threads/no-such-thread/ownership", headers=http.alex)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_thread")
    anonymous = await http.client.get(path)
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")
    assert (await http.client.get(path, headers=http.admin)).status_code == 401


async def test_refusals_keep_their_status_and_code(queue: Queue, http: Http) -> None:
    ticket = await queue.conversation()
    url = f"/v1/tickets/{ticket.ticket_id}"
    await http.client.post(f"{url}/claim", headers=http.alex)

    taken = await http.client.post(f"{url}/claim", headers=http.bo)
    assert (taken.status_code, taken.json()["code"]) == (403, "wrong_department")
    wrong = await http.client.post(f"{url}/answer", json={"text": "42"}, headers=http.alex)
    assert (wrong.status_code, wrong.json()["code"]) == (409, "wrong_kind")
    blank = await http.client.post(f"{url}/reply", json={"text": "  "}, headers=http.alex)
    assert (blank.status_code, blank.json()["code"]) == (422, "invalid_text")
    extra = await http.client.post(
        f"{url}/reply", json={"text": "hi", "agent_name": "CEO"}, headers=http.alex
    )
    assert (extra.status_code, extra.json()["code"]) == (422, "invalid_request")
    stranger = await http.client.post(
        f"{url}/reply",
        json={"text": "hi", "in_reply_to": "7d0c2f4e-3b1a-4c55-9a63-0f3f0c8e7a11"},
        headers=http.alex,
    )
    assert (stranger.status_code, stranger.json()["code"]) == (422, "not_in_ticket")
    named = await http.client.post(
        f"{url}/reply",
        json={"text": "hi", "in_reply_to": str(ticket.user_message_id)},
        headers=http.alex,
    )
    assert named.status_code == 200, named.text


async def test_the_ticket_view_names_its_holder_and_the_ais_handover(
    queue: Queue, http: Http
) -> None:
    ticket = await queue.request("escalation", suggestion="Offer a voucher", confidence=0.4)
    await http.client.post(f"/v1/tickets/{ticket.ticket_id}/claim", headers=http.alex)

    detail = (await http.client.get(f"/v1/tickets/{ticket.ticket_id}", headers=http.alex)).json()

    assert detail["ticket"]["kind"] == "escalation"
    assert detail["ticket"]["assigned_agent"]["name"] == "Alex"
    assert detail["ticket"]["draft_text"] is None
    assert (detail["ai"]["suggestion"], detail["ai"]["confidence"]) == ("Offer a voucher", 0.4)
    assert detail["thread"]["owner"] == "human"
    assert [m["role"] for m in detail["messages"]] == ["user"]


async def test_admins_export_feedback_one_json_object_a_line(queue: Queue, http: Http) -> None:
    claimed = await queue.claimed("question")
    await queue.holder.answer(ALEX, claimed.ticket_id, "Yes.")
    response = await http.client.get("/v1/admin/feedback.jsonl", headers=http.admin)
    assert response.status_code == 200
    [line] = response.text.splitlines()
    record = json.loads(line)
    assert (record["kind"], record["human_text"], record["ticket_id"]) == (
        "answer",
        "Yes.",
        claimed.ticket_id,
    )
    assert (await http.client.get("/v1/admin/feedback.jsonl", headers=http.alex)).status_code == 401
