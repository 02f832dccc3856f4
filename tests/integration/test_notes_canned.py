"""Internal notes and canned replies through real Kafka, MongoDB and HTTP: every rule with
its refusal's status and code, and the three things a note must never do."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from baton_contracts import MessageSent, ThreadAssigned
from baton_human_queue.cli import main as baton_queue
from baton_runtime import Document
from tests.support.pipeline import Pipeline
from tests.support.queue import AgentClient, department, new_agent, reply_rule, token
from tests.support.recorder import in_thread

ADMIN_CANNED = "/v1/admin/canned-responses"


async def agent(pipeline: Pipeline, name: str, *departments: str) -> AgentClient:
    return await new_agent(pipeline.queue, pipeline.admin_token, name, *departments)


async def conversation(
    pipeline: Pipeline, alex: AgentClient, dept: str, **thread: Any
) -> tuple[str, dict[str, Any]]:
    """A thread of ``dept`` the router gives to people, and its conversation ticket."""
    thread_id = await pipeline.new_thread(department=dept, **thread)
    await pipeline.say(thread_id, f"I want to talk to a human {token()}")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")
    return thread_id, ticket


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["code"] == code, response.text


def admin(pipeline: Pipeline) -> dict[str, str]:
    return {"Authorization": f"Bearer {pipeline.admin_token}"}


# ---------------------------------------------------------------- notes


async def test_a_note_is_never_shown_to_the_user_sent_or_given_to_the_model(
    pipeline: Pipeline,
) -> None:
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    thread_id, ticket = await conversation(pipeline, alex, dept)
    ticket_id = ticket["ticket_id"]
    secret = f"note-{token()}"
    await alex.act(ticket_id, "claim")
    response = await alex.post(f"/v1/tickets/{ticket_id}/notes", {"text": f"Internal: {secret}"})
    assert response.status_code == 201, response.text
    said = f"human-said-{token()}"
    await alex.act(ticket_id, "reply", {"text": f"Hello, Alex here. {said}"})
    await alex.act(ticket_id, "resolve", {"handback": "ai"})
    await pipeline.recorder.wait_for(
        ThreadAssigned, lambda e: e.thread_id == thread_id and e.owner == "ai"
    )

    # The user writes again: the AI answers, with the thread (the person's reply included)
    # in its prompt.
    tok = token()
    await pipeline.script(reply_rule(tok, "Anything else?"))
    await pipeline.say(thread_id, f"Thanks! {tok}")
    await pipeline.recorder.wait_for(
        MessageSent, lambda e: e.thread_id == thread_id and e.text == "Anything else?"
    )

    # 1. Never given to the model: the model saw the person's reply, not the note.
    seen = (await pipeline.model.get("/_calls", params={"contains": tok})).json()["calls"]
    assert seen, "the model was not called for the user's message"
    assert any(said in str(call["request"]) for call in seen)
    assert (await pipeline.model.get("/_calls", params={"contains": secret})).json() == {
        "calls": []
    }
    # 2. Never sent as message.sent.
    sent = pipeline.recorder.events(MessageSent, in_thread(thread_id))
    assert [e.text for e in sent] == [f"Hello, Alex here. {said}", "Anything else?"]
    # 3. Never returned by ingest's thread API.
    thread = (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json()
    assert any(said in m["text"] for m in thread["messages"])
    assert secret not in str(thread)
    # ...while the agents' views show it, marked internal.
    detail = await alex.ticket(ticket_id)
    assert [(n["internal"], n["text"]) for n in detail["notes"]] == [(True, f"Internal: {secret}")]
    agents_view = (await alex.get(f"/v1/threads/{thread_id}/messages")).json()
    assert [n["author"] for n in agents_view["notes"]] == [
        {"agent_id": alex.agent_id, "name": "Alex"}
    ]
    assert secret not in str(agents_view["messages"])


async def test_who_may_add_and_read_notes(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    sam = await agent(pipeline, "Sam", dept)
    bo = await agent(pipeline, "Bo", department())
    thread_id, ticket = await conversation(pipeline, alex, dept)
    path = f"/v1/tickets/{ticket['ticket_id']}/notes"
    await alex.act(ticket["ticket_id"], "claim")

    # Anyone who may see the ticket, not only its holder.
    added = await sam.post(path, {"text": "Customer is on the phone too."})
    assert added.status_code == 201, added.text
    note = added.json()
    assert (note["author"]["name"], note["ticket_id"], note["thread_id"]) == (
        "Sam",
        ticket["ticket_id"],
        thread_id,
    )
    db = mongo_client[pipeline.mongo.database]
    stored = await db["ticket_notes"].find_one({"_id": note["note_id"]})
    assert stored is not None
    assert stored["department"] == dept
    assert (
        await db["messages"].find_one(
            {"thread_id": thread_id, "content": "Customer is on the phone too."}
        )
        is None
    )
    assert (await alex.get(path)).json()["notes"] == [note]

    refused(await bo.post(path, {"text": "not mine"}), 403, "wrong_department")
    refused(await bo.get(path), 403, "wrong_department")
    refused(await bo.get(f"/v1/threads/{thread_id}/messages"), 403, "wrong_department")
    refused(
        await alex.post("/v1/tickets/no-such-ticket/notes", {"text": "x"}), 404, "unknown_ticket"
    )
    refused(await alex.post(path, {"text": "  \n "}), 422, "invalid_text")
    refused(await alex.post(path, {"text": "x" * 4001}), 422, "invalid_text")
    refused(await alex.post(path, {"text": "NUL \u0000"}), 422, "invalid_text")
    # A lone surrogate is no text: the body does not even read as a string.
    lone = b'{"text": "lone \\ud800"}'
    refused(
        await pipeline.queue.post(
            path, content=lone, headers={**alex.headers, "content-type": "application/json"}
        ),
        422,
        "invalid_request",
    )
    refused(await alex.post(path, {"text": "hi", "author": "Boss"}), 422, "invalid_request")
    refused(await pipeline.queue.post(path, json={"text": "x"}), 401, "unauthenticated")
    refused(
        await pipeline.queue.post(path, json={"text": "x"}, headers=admin(pipeline)),
        401,
        "invalid_token",
    )
    # A resolved ticket still takes notes.
    await alex.act(ticket["ticket_id"], "resolve", {"handback": "none"})
    assert (await alex.post(path, {"text": "Followed up by mail."})).status_code == 201
    assert len((await alex.get(path)).json()["notes"]) == 2


# ---------------------------------------------------------------- canned replies


async def test_admins_manage_canned_replies(pipeline: Pipeline) -> None:
    dept = department()
    http, headers = pipeline.queue, admin(pipeline)
    body = {
        "department": dept,
        "shortcut": "refund",
        "title": "Refund on its way",
        "text": "Hi {user_name}, your refund for {metadata.order_id} is on its way.",
    }
    created = await http.post(ADMIN_CANNED, json=body, headers=headers)
    assert created.status_code == 201, created.text
    made = created.json()
    assert made["placeholders"] == ["user_name", "metadata.order_id"]
    one = f"{ADMIN_CANNED}/{made['canned_id']}"
    assert (await http.get(one, headers=headers)).json() == made
    listed = await http.get(ADMIN_CANNED, params={"department": dept}, headers=headers)
    assert listed.json()["canned_responses"] == [made]

    refused(await http.post(ADMIN_CANNED, json=body, headers=headers), 409, "shortcut_taken")
    shared = await http.post(ADMIN_CANNED, json={**body, "department": None}, headers=headers)
    assert shared.status_code == 201, shared.text  # another scope, the same shortcut
    for bad, code in [
        ({"text": "Hi {name}"}, "unknown_placeholder"),
        ({"text": "Hi {tier}"}, "unknown_placeholder"),
        ({"text": "Hi {user_name"}, "invalid_template"),
        ({"text": "bell \u0007"}, "invalid_text"),
        ({"text": "x" * 4001}, "invalid_text"),
        ({"shortcut": "Has Space"}, "invalid_request"),
        ({"title": "two\nlines"}, "invalid_request"),
        ({"department": "a/b"}, "invalid_request"),
        ({"owner": "me"}, "invalid_request"),
    ]:
        response = await http.post(
            ADMIN_CANNED, json={**body, "shortcut": "other", **bad}, headers=headers
        )
        refused(response, 422, code)

    patched = await http.patch(
        one, json={"title": "Refund", "text": "Hi {user_name}."}, headers=headers
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["title"], patched.json()["shortcut"]) == ("Refund", "refund")
    refused(
        await http.patch(one, json={"text": "{nope}"}, headers=headers), 422, "unknown_placeholder"
    )
    refused(await http.patch(one, json={"shortcut": None}, headers=headers), 422, "invalid_request")
    refused(
        await http.patch(one, json={"department": None}, headers=headers), 409, "shortcut_taken"
    )
    assert (await http.delete(one, headers=headers)).status_code == 204
    refused(await http.get(one, headers=headers), 404, "unknown_canned_response")
    refused(
        await http.patch(one, json={"title": "x"}, headers=headers), 404, "unknown_canned_response"
    )
    refused(await http.delete(one, headers=headers), 404, "unknown_canned_response")
    await http.delete(f"{ADMIN_CANNED}/{shared.json()['canned_id']}", headers=headers)

    alex = await agent(pipeline, "Alex", dept)
    refused(await http.post(ADMIN_CANNED, json=body, headers=alex.headers), 401, "invalid_token")
    refused(await http.get(ADMIN_CANNED), 401, "unauthenticated")


async def test_of_concurrent_creations_of_a_shortcut_one_wins(pipeline: Pipeline) -> None:
    body = {"department": department(), "shortcut": "race", "title": "Race", "text": "x"}
    answers = await asyncio.gather(
        *(pipeline.queue.post(ADMIN_CANNED, json=body, headers=admin(pipeline)) for _ in range(8))
    )
    assert sorted(r.status_code for r in answers) == [201] + [409] * 7


async def test_agents_get_their_replies_filled_in_for_a_ticket(pipeline: Pipeline) -> None:
    dept, other = department(), department()
    headers = admin(pipeline)
    for department_, shortcut, text in [
        (dept, "order", "Hi {user_name}, {agent_name} here about {metadata.order_id}."),
        (dept, "vip", "As a {metadata.tier} customer, {user_name}, you come first. {{sic}}"),
        (other, "elsewhere", "Not for this ticket"),
    ]:
        response = await pipeline.queue.post(
            ADMIN_CANNED,
            json={"department": department_, "shortcut": shortcut, "title": shortcut, "text": text},
            headers=headers,
        )
        assert response.status_code == 201, response.text
    alex = await agent(pipeline, "Alex", dept)
    bo = await agent(pipeline, "Bo", other)
    _, ticket = await conversation(pipeline, alex, dept, metadata={"name": "Ada", "tier": "vip"})
    path = f"/v1/tickets/{ticket['ticket_id']}/canned-responses"

    response = await alex.get(path)

    assert response.status_code == 200, response.text
    found = {c["shortcut"]: c for c in response.json()["canned_responses"]}
    assert {"order", "vip"} <= set(found)
    assert "elsewhere" not in found
    assert (found["order"]["text"], found["order"]["missing"]) == (
        "Hi Ada, Alex here about .",
        ["metadata.order_id"],
    )
    assert (found["vip"]["text"], found["vip"]["missing"]) == (
        "As a vip customer, Ada, you come first. {sic}",
        [],
    )
    mine = (await alex.get("/v1/canned-responses", department=dept)).json()["canned_responses"]
    assert [c["shortcut"] for c in mine if c["department"] == dept] == ["order", "vip"]
    assert all(c["department"] in (dept, None) for c in mine)
    theirs = (await bo.get("/v1/canned-responses")).json()["canned_responses"]
    assert [c["shortcut"] for c in theirs if c["department"] is not None] == ["elsewhere"]
    refused(await bo.get(path), 403, "wrong_department")
    refused(await bo.get("/v1/canned-responses", department=dept), 403, "wrong_department")
    refused(await alex.get("/v1/tickets/no-such-ticket/canned-responses"), 404, "unknown_ticket")

    # Send one: it is an ordinary reply.
    await alex.act(ticket["ticket_id"], "claim")
    sent = await alex.act(ticket["ticket_id"], "reply", {"text": found["vip"]["text"]})
    [event] = await pipeline.recorder.wait_for(
        MessageSent, lambda e: e.message_id == uuid.UUID(sent["message_id"])
    )
    assert event.text == "As a vip customer, Ada, you come first. {sic}"


async def test_baton_queue_manages_canned_replies(
    pipeline: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MONGODB_URL", pipeline.mongo.url.get_secret_value())
    monkeypatch.setenv("MONGODB_DATABASE", pipeline.mongo.database)
    dept = department()

    def run(*argv: str) -> tuple[int, str, str]:
        code = baton_queue(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = await asyncio.to_thread(
        run, "canned", "create", "--department", dept, "--shortcut", "hi", "--title", "Hi",
        "--text", "Hi {user_name}",
    )  # fmt: skip
    assert code == 0
    canned_id = out.strip()
    code, out, _ = await asyncio.to_thread(run, "canned", "list", "--department", dept)
    assert (code, out.split("\t")[:3]) == (0, [canned_id, dept, "hi"])
    code, _, err = await asyncio.to_thread(
        run, "canned", "create", "--shared", "--shortcut", "x", "--title", "X", "--text", "{x}"
    )
    assert code == 2
    assert "unknown placeholder" in err
    code, out, _ = await asyncio.to_thread(run, "canned", "update", canned_id, "--shared")
    assert (code, out.split("\t")[1]) == (0, "(shared)")
    assert (await asyncio.to_thread(run, "canned", "delete", canned_id))[0] == 0
    code, _, err = await asyncio.to_thread(run, "canned", "delete", canned_id)
    assert code == 2
    assert "does not exist" in err
