"""The notes and canned-reply routes over the use cases and in-memory stores: statuses,
codes and bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from baton_human_queue.agents import Agents
from baton_human_queue.api import api_router
from baton_human_queue.usecases.canned import CannedResponses
from baton_human_queue.usecases.notes import Notes
from baton_runtime import install_error_handlers
from tests.support.queue_memory import MemoryCanned, MemoryNotes
from tests.support.queue_records import MemoryAgents

from .conftest import Queue

ADMIN = "admin-token-0123456789"


@dataclass
class Http:
    client: httpx.AsyncClient
    alex: dict[str, str]
    bo: dict[str, str]
    admin: dict[str, str]


@pytest.fixture
async def http(queue: Queue) -> AsyncIterator[Http]:
    agents = Agents(MemoryAgents())
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
            notes=Notes(notes=MemoryNotes(), tickets=queue.tickets, max_length=100),
            canned=CannedResponses(
                canned=MemoryCanned(),
                tickets=queue.tickets,
                conversations=queue.conversations,
                max_length=100,
            ),
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


async def test_a_note_shows_in_the_ticket_and_the_thread_marked_internal(
    queue: Queue, http: Http
) -> None:
    ticket = await queue.conversation()
    notes = f"/v1/tickets/{ticket.ticket_id}/notes"

    added = await http.client.post(notes, json={"text": "Called back."}, headers=http.alex)

    assert added.status_code == 201, added.text
    note = added.json()
    assert (note["internal"], note["text"], note["author"]["name"]) == (
        True,
        "Called back.",
        "Alex",
    )
    detail = (await http.client.get(f"/v1/tickets/{ticket.ticket_id}", headers=http.alex)).json()
    assert detail["notes"] == [note]
    assert all(m["text"] != "Called back." for m in detail["messages"])
    thread = await http.client.get(f"/v1/threads/{ticket.thread_id}/messages", headers=http.alex)
    assert thread.json()["notes"] == [note]
    listed = await http.client.get(notes, headers=http.alex)
    assert listed.json() == {"notes": [note]}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": "   "}, 422, "invalid_text"),
        ({"text": "x" * 101}, 422, "invalid_text"),
        ({"text": "bell \u0007"}, 422, "invalid_text"),
        ({"text": 5}, 422, "invalid_request"),
        ({"text": "hi", "author": "Sam"}, 422, "invalid_request"),
    ],
)
async def test_a_refused_note(
    queue: Queue, http: Http, body: dict[str, object], status: int, code: str
) -> None:
    ticket = await queue.conversation()
    response = await http.client.post(
        f"/v1/tickets/{ticket.ticket_id}/notes", json=body, headers=http.alex
    )
    assert (response.status_code, response.json()["code"]) == (status, code)


async def test_notes_of_a_ticket_one_may_not_see(queue: Queue, http: Http) -> None:
    ticket = await queue.conversation()
    path = f"/v1/tickets/{ticket.ticket_id}/notes"
    refused = await http.client.post(path, json={"text": "x"}, headers=http.bo)
    assert (refused.status_code, refused.json()["code"]) == (403, "wrong_department")
    refused = await http.client.get(path, headers=http.bo)
    assert (refused.status_code, refused.json()["code"]) == (403, "wrong_department")
    unknown = await http.client.post(
        "/v1/tickets/nope/notes", json={"text": "x"}, headers=http.alex
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_ticket")
    anonymous = await http.client.post(path, json={"text": "x"})
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, "unauthenticated")


async def test_admins_manage_canned_replies_and_agents_use_them(queue: Queue, http: Http) -> None:
    admin = "/v1/admin/canned-responses"
    created = await http.client.post(
        admin,
        json={
            "department": "billing",
            "shortcut": "hello",
            "title": "Hello",
            "text": "Hi {user_name}, {agent_name} here ({metadata.tier}).",
        },
        headers=http.admin,
    )
    assert created.status_code == 201, created.text
    made = created.json()
    assert made["placeholders"] == ["user_name", "agent_name", "metadata.tier"]

    ticket = await queue.conversation()
    rendered = await http.client.get(
        f"/v1/tickets/{ticket.ticket_id}/canned-responses", headers=http.alex
    )
    assert rendered.status_code == 200, rendered.text
    [one] = rendered.json()["canned_responses"]
    assert (one["text"], one["missing"]) == ("Hi u-1, Alex here ().", ["metadata.tier"])
    listed = await http.client.get("/v1/canned-responses", headers=http.alex)
    assert [c["shortcut"] for c in listed.json()["canned_responses"]] == ["hello"]
    assert (await http.client.get("/v1/canned-responses", headers=http.bo)).json() == {
        "canned_responses": []
    }
    refused = await http.client.get("/v1/canned-responses?department=billing", headers=http.bo)
    assert (refused.status_code, refused.json()["code"]) == (403, "wrong_department")

    one_path = f"{admin}/{made['canned_id']}"
    patched = await http.client.patch(one_path, json={"department": None}, headers=http.admin)
    assert (patched.status_code, patched.json()["department"]) == (200, None)
    assert patched.json()["text"] == made["text"]
    nulled = await http.client.patch(one_path, json={"title": None}, headers=http.admin)
    assert (nulled.status_code, nulled.json()["code"]) == (422, "invalid_request")
    assert (await http.client.delete(one_path, headers=http.admin)).status_code == 204
    gone = await http.client.get(one_path, headers=http.admin)
    assert (gone.status_code, gone.json()["code"]) == (404, "unknown_canned_response")


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"text": "Hi {name}"}, 422, "unknown_placeholder"),
        ({"text": "Hi {user_name"}, 422, "invalid_template"),
        ({"shortcut": "Not Ok"}, 422, "invalid_request"),
        ({"department": "a/b"}, 422, "invalid_request"),
        ({"title": ""}, 422, "invalid_request"),
        ({"text": "x" * 101}, 422, "invalid_text"),
        ({"extra": 1}, 422, "invalid_request"),
        ({"shortcut": "taken"}, 409, "shortcut_taken"),
    ],
)
async def test_a_refused_canned_reply(
    http: Http, body: dict[str, object], status: int, code: str
) -> None:
    base = {"department": "billing", "shortcut": "taken", "title": "T", "text": "t"}
    first = await http.client.post("/v1/admin/canned-responses", json=base, headers=http.admin)
    assert first.status_code == 201
    response = await http.client.post(
        "/v1/admin/canned-responses", json={**base, "shortcut": "new", **body}, headers=http.admin
    )
    assert (response.status_code, response.json()["code"]) == (status, code), response.text
    agents_may_not = await http.client.post(
        "/v1/admin/canned-responses", json=base, headers=http.alex
    )
    assert (agents_may_not.status_code, agents_may_not.json()["code"]) == (401, "invalid_token")
