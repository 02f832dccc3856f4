"""The action routes over the use cases and in-memory stores: deciding, the ticket's
`action` and `history`, refusals, and the admin export of the action audit."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from baton_contracts import ActionDecided
from baton_human_queue.agents import Agents
from baton_human_queue.api import api_router
from baton_human_queue.usecases import ActionRecords
from baton_runtime import install_error_handlers

from .conftest import NOW, Queue
from .test_actions import PROPOSED, SCHEMA, action_fields, executed

ADMIN = "admin-token-0123456789"


@dataclass
class Http:
    client: httpx.AsyncClient
    alex: dict[str, str]
    admin: dict[str, str]

    async def held_action(self, queue: Queue) -> str:
        ticket = await queue.request("action", **action_fields())
        claimed = await self.client.post(f"/v1/tickets/{ticket.ticket_id}/claim", headers=self.alex)
        assert claimed.status_code == 200, claimed.text
        return ticket.ticket_id


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
            actions=ActionRecords(audit=queue.action_audit),
        )
    )
    alex = await agents.create("Alex", ["billing"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://queue.test") as client:
        yield Http(
            client,
            alex={"Authorization": f"Bearer {alex.token}"},
            admin={"Authorization": f"Bearer {ADMIN}"},
        )


async def test_an_action_ticket_shows_its_call_and_history(queue: Queue, http: Http) -> None:
    ticket_id = await http.held_action(queue)
    edited = {"order_id": "A-7", "amount": 25}

    approved = await http.client.post(
        f"/v1/tickets/{ticket_id}/approve-action", json={"arguments": edited}, headers=http.alex
    )

    assert approved.status_code == 200, approved.text
    view = approved.json()
    assert (view["kind"], view["status"], view["tool_call_id"]) == (
        "action",
        "resolved",
        "call_refund",
    )
    assert view["action"] == {
        "tool_name": "refund",
        "description": "Refund an order, in part or in full.",
        "parameters": SCHEMA,
        "arguments": PROPOSED,
        "approval_reason": "amount > 20",
    }
    assert view["resolution"]["action"] == "approve_action"
    detail = (await http.client.get(f"/v1/tickets/{ticket_id}", headers=http.alex)).json()
    history = detail["history"]
    assert [h["what"] for h in history] == ["proposed", "edited", "approved"]
    assert history[0]["by"] is None
    assert history[1]["by"]["name"] == "Alex"
    assert set(history[1]["by"]) == {"agent_id", "name"}
    assert (history[1]["previous_arguments"], history[1]["arguments"]) == (PROPOSED, edited)
    assert history[2]["arguments"] == edited

    other = await queue.request("question")
    plain = (await http.client.get(f"/v1/tickets/{other.ticket_id}", headers=http.alex)).json()
    assert (plain["history"], plain["ticket"]["action"]) == ([], None)


async def test_approving_without_a_body_runs_the_call_as_proposed(queue: Queue, http: Http) -> None:
    ticket_id = await http.held_action(queue)
    done = await http.client.post(f"/v1/tickets/{ticket_id}/approve-action", headers=http.alex)
    assert done.status_code == 200, done.text
    [decided] = queue.published(ActionDecided)
    assert (decided.arguments, decided.edited) == (PROPOSED, False)


@pytest.mark.parametrize(
    ("route", "body", "status", "code"),
    [
        (
            "approve-action",
            {"arguments": {"order_id": "A-7", "amount": 1000}},
            422,
            "invalid_arguments",
        ),
        ("approve-action", {"arguments": ["not", "an", "object"]}, 422, "invalid_request"),
        ("approve-action", {"arguments": {}, "agent": "CEO"}, 422, "invalid_request"),
        ("deny-action", {}, 422, "invalid_request"),
        ("deny-action", {"reason": ""}, 422, "invalid_request"),
        ("deny-action", {"reason": "x" * 4001}, 422, "invalid_request"),
        ("deny-action", {"reason": "   "}, 422, "invalid_text"),
        ("answer", {"text": "yes"}, 409, "wrong_kind"),
        ("approve", {}, 409, "wrong_kind"),
    ],
)
async def test_refusals(
    queue: Queue, http: Http, route: str, body: dict[str, Any], status: int, code: str
) -> None:
    ticket_id = await http.held_action(queue)
    response = await http.client.post(
        f"/v1/tickets/{ticket_id}/{route}", json=body, headers=http.alex
    )
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    assert queue.published(ActionDecided) == []


async def test_an_invalid_edit_names_the_path(queue: Queue, http: Http) -> None:
    ticket_id = await http.held_action(queue)
    response = await http.client.post(
        f"/v1/tickets/{ticket_id}/approve-action",
        json={"arguments": {"order_id": "A-7", "amount": "lots"}},
        headers=http.alex,
    )
    assert response.json()["detail"] == (
        "the arguments do not match the tool's schema: at $.amount: 'lots' is not of type 'number'"
    )


async def test_action_routes_refuse_other_kinds(queue: Queue, http: Http) -> None:
    ticket = await queue.request("question")
    await http.client.post(f"/v1/tickets/{ticket.ticket_id}/claim", headers=http.alex)
    for route, body in (("approve-action", {}), ("deny-action", {"reason": "no"})):
        response = await http.client.post(
            f"/v1/tickets/{ticket.ticket_id}/{route}", json=body, headers=http.alex
        )
        assert (response.status_code, response.json()["code"]) == (409, "wrong_kind")


async def test_denying_through_the_api(queue: Queue, http: Http) -> None:
    ticket_id = await http.held_action(queue)
    denied = await http.client.post(
        f"/v1/tickets/{ticket_id}/deny-action",
        json={"reason": "Not for this customer"},
        headers=http.alex,
    )
    assert denied.status_code == 200, denied.text
    assert denied.json()["resolution"]["action"] == "deny_action"
    detail = (await http.client.get(f"/v1/tickets/{ticket_id}", headers=http.alex)).json()
    assert [(h["what"], h["reason"]) for h in detail["history"]][-1] == (
        "denied",
        "Not for this customer",
    )


async def test_admins_export_the_action_audit(queue: Queue, http: Http) -> None:
    ticket_id = await http.held_action(queue)
    await http.client.post(f"/v1/tickets/{ticket_id}/approve-action", headers=http.alex)
    await ActionRecords(audit=queue.action_audit).executed(
        executed(None, "thread-free", occurred_at=NOW + timedelta(hours=1))
    )

    response = await http.client.get("/v1/admin/actions", headers=http.admin)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [(r["what"], r["ticket_id"]) for r in lines] == [
        ("proposed", ticket_id),
        ("approved", ticket_id),
        ("executed", None),
    ]
    assert lines[1]["by"]["name"] == "Alex"
    assert lines[2]["thread_id"] == "thread-free"

    since = lines[2]["at"]
    later = await http.client.get("/v1/admin/actions", params={"since": since}, headers=http.admin)
    assert [json.loads(line)["what"] for line in later.text.splitlines()] == ["executed"]
    backwards = await http.client.get(
        "/v1/admin/actions",
        params={"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
        headers=http.admin,
    )
    assert (backwards.status_code, backwards.json()["code"]) == (422, "invalid_period")
    assert (await http.client.get("/v1/admin/actions", headers=http.alex)).status_code == 401
