"""Action tickets through a human queue of its own on real Kafka, MongoDB and HTTP: the AI's
proposed tool call (``tool.human_requested`` kind action) becomes a ticket showing the call;
a person approves it (edited within the tool's JSON Schema) or denies it, and
``action.decided`` says so; an undecided one expires (``ticket.expired``); the AI's report of
the run (``action.executed``) joins the ticket's history and the admin export; the approval
feeds the feedback export.

The department ``quick`` has an action timeout of a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from baton_contracts import (
    ActionDecided,
    ActionExecuted,
    Event,
    TicketExpired,
    TicketOpened,
    ToolAction,
    ToolHumanRequested,
    topics,
)
from baton_conversations import Conversations
from baton_human_queue.domain import DepartmentTimeout, QuestionTimeout
from baton_human_queue.notices import NOTICE_KINDS
from baton_runtime import Document, KafkaEventPublisher, KafkaSettings, MongoSettings
from tests.support.memory import MemoryPublisher
from tests.support.pipeline import ADMIN_TOKEN
from tests.support.queue import AgentClient, department, new_agent
from tests.support.recorder import in_thread
from tests.support.served import ServedQueue, served_queue
from tests.support.waiting import eventually

QUICK = "quick"
QUICK_S = 2.0
# `$defs`, `$ref` and a dotted key: a schema is stored in MongoDB as the AI sent it.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "amount": {"$ref": "#/$defs/amount"},
        "note.text": {"type": "string"},
    },
    "required": ["order_id", "amount"],
    "additionalProperties": False,
    "$defs": {"amount": {"type": "number", "minimum": 0, "maximum": 100}},
}
PROPOSED = {"order_id": "A-7", "amount": 40}


@dataclass
class Queue(ServedQueue):
    async def publish(self, *events: Event) -> None:
        await KafkaEventPublisher(self.producer, self.kafka).publish(events)

    async def thread(self, dept: str) -> str:
        # Only opens threads here: nothing goes through its outbox.
        conversations = Conversations(self.db, MemoryPublisher())
        thread = await conversations.open_thread(
            user_id=f"u-{uuid.uuid4().hex[:6]}", channel="web", department=dept, metadata={}
        )
        return thread.thread_id

    async def proposed(self, dept: str) -> tuple[str, ToolHumanRequested]:
        """A thread where the AI proposes a refund that needs approval."""
        thread_id = await self.thread(dept)
        request = ToolHumanRequested.first(
            thread_id=thread_id,
            kind="action",
            request_id=uuid.uuid4(),
            message_id=uuid.uuid4(),
            tool_call_id=f"call_{uuid.uuid4().hex[:8]}",
            reason="the refund needs approval",
            action=ToolAction(
                tool_name="refund",
                description="Refund an order, in part or in full.",
                parameters=SCHEMA,
                arguments=PROPOSED,
                approval_reason="amount > 20",
            ),
        )
        await self.publish(request)
        return thread_id, request

    async def admin_get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(
            path, params=params, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )


@pytest.fixture(scope="module")
async def queue(
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_client: AsyncMongoClient[Document],
) -> AsyncIterator[Queue]:
    async with served_queue(
        Queue,
        kafka_settings,
        mongo_settings,
        mongo_client,
        name="actions",
        watch=(
            topics.ACTION_DECIDED,
            topics.TICKET_EXPIRED,
            topics.TICKET_OPENED,
        ),
        sweep_interval_s=0.2,
        action_timeout=QuestionTimeout(
            by_department={QUICK: DepartmentTimeout(after_s=QUICK_S, fallback="ai")}
        ),
        notices=json.dumps({"disable": list(NOTICE_KINDS)}),
    ) as served:
        yield served


async def held(queue: Queue, dept: str | None = None) -> tuple[AgentClient, str, dict[str, Any]]:
    dept = dept or department()
    alex = await new_agent(queue.http, ADMIN_TOKEN, "Alex", dept)
    thread_id, _ = await queue.proposed(dept)
    [ticket] = await alex.wait_for_ticket(thread_id, kind="action")
    await alex.act(ticket["ticket_id"], "claim")
    return alex, thread_id, ticket


async def test_an_approved_edited_call_is_announced_and_recorded(queue: Queue) -> None:
    dept = department()
    alex = await new_agent(queue.http, ADMIN_TOKEN, "Alex", dept)
    thread_id, request = await queue.proposed(dept)

    [ticket] = await alex.wait_for_ticket(thread_id, kind="action")
    assert (ticket["status"], ticket["priority"], ticket["tool_call_id"]) == (
        "pending",
        30,
        request.tool_call_id,
    )
    assert ticket["action"] == {
        "tool_name": "refund",
        "description": "Refund an order, in part or in full.",
        "parameters": SCHEMA,
        "arguments": PROPOSED,
        "approval_reason": "amount > 20",
    }
    assert ticket["expires_at"] is not None
    # The AI summarises it for the agent, as it does a question.
    [opened] = await queue.recorder.wait_for(TicketOpened, in_thread(thread_id))
    assert opened.kind == "action"

    ticket_id = ticket["ticket_id"]
    await alex.act(ticket_id, "claim")
    edited = {"order_id": "A-7", "amount": 25, "note.text": "half now"}
    done = await alex.act(ticket_id, "approve-action", {"arguments": edited})
    assert (done["status"], done["resolution"]["action"]) == ("resolved", "approve_action")

    [decided] = await queue.recorder.wait_for(ActionDecided, in_thread(thread_id))
    assert (decided.decision, decided.arguments, decided.edited) == ("approved", edited, True)
    assert (decided.ticket_id, decided.request_id, decided.tool_call_id) == (
        ticket_id,
        request.request_id,
        request.tool_call_id,
    )
    assert (decided.agent.agent_id, decided.agent.name) == (alex.agent_id, "Alex")

    async def history() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = (await alex.ticket(ticket_id))["history"]
        return found if len(found) == 3 else None

    proposed, edit, approval = await eventually(history, what="the ticket's history")
    assert (proposed["what"], proposed["by"], proposed["arguments"]) == ("proposed", None, PROPOSED)
    assert (edit["what"], edit["previous_arguments"], edit["arguments"]) == (
        "edited",
        PROPOSED,
        edited,
    )
    assert (approval["what"], approval["arguments"]) == ("approved", edited)
    assert edit["by"] == approval["by"] == {"agent_id": alex.agent_id, "name": "Alex"}

    # The approval is feedback on the AI's proposal.
    feedback = [
        json.loads(line)
        for line in (await queue.admin_get("/v1/admin/feedback.jsonl")).text.splitlines()
    ]
    [mine] = [f for f in feedback if f["ticket_id"] == ticket_id]
    assert (mine["kind"], mine["edited"], mine["arguments"]) == ("action_approval", True, edited)
    assert (mine["ai_output"]["kind"], mine["ai_output"]["arguments"]) == ("action", PROPOSED)

    # The AI ran it and said so: the run joins the history and the export.
    run = ActionExecuted.first(
        thread_id=thread_id,
        tool_name="refund",
        tool_call_id=request.tool_call_id or "",
        message_id=request.message_id,
        request_id=request.request_id,
        ticket_id=ticket_id,
        idempotency_key=f"{ticket_id}:refund",
        arguments=edited,
        outcome="succeeded",
        status_code=200,
        duration_ms=87,
    )
    await queue.publish(run, run)  # delivered twice: kept once

    async def executed() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = (await alex.ticket(ticket_id))["history"]
        return found if found[-1]["what"] == "executed" else None

    entries = await eventually(executed, what="the executed call in the history")
    assert [e["what"] for e in entries] == ["proposed", "edited", "approved", "executed"]
    assert (entries[-1]["outcome"], entries[-1]["status_code"], entries[-1]["duration_ms"]) == (
        "succeeded",
        200,
        87,
    )
    exported = [
        json.loads(line) for line in (await queue.admin_get("/v1/admin/actions")).text.splitlines()
    ]
    assert [r["what"] for r in exported if r["ticket_id"] == ticket_id] == [
        "proposed",
        "edited",
        "approved",
        "executed",
    ]


async def test_invalid_edited_arguments_are_refused_and_nothing_is_announced(
    queue: Queue,
) -> None:
    alex, thread_id, ticket = await held(queue)
    ticket_id = ticket["ticket_id"]

    refused = await alex.post(
        f"/v1/tickets/{ticket_id}/approve-action",
        {"arguments": {"order_id": "A-7", "amount": 500}},
    )

    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_arguments")
    assert "at $.amount: 500 is greater than the maximum of 100" in refused.json()["detail"]
    still = (await alex.ticket(ticket_id))["ticket"]
    assert (still["status"], still["resolution"]) == ("assigned", None)
    # The denial that follows is the ticket's only decision.
    await alex.act(ticket_id, "deny-action", {"reason": "Refunds go through finance"})
    [decided] = await queue.recorder.wait_for(ActionDecided, in_thread(thread_id))
    assert (decided.decision, decided.reason, decided.arguments) == (
        "denied",
        "Refunds go through finance",
        None,
    )
    await asyncio.sleep(0.5)
    assert len(queue.recorder.events(ActionDecided, in_thread(thread_id))) == 1
    history = (await alex.ticket(ticket_id))["history"]
    assert [(h["what"], h["reason"]) for h in history] == [
        ("proposed", "amount > 20"),
        ("denied", "Refunds go through finance"),
    ]


async def test_an_undecided_call_expires(queue: Queue) -> None:
    alex = await new_agent(queue.http, ADMIN_TOKEN, "Alex", QUICK)
    thread_id, request = await queue.proposed(QUICK)
    [ticket] = await alex.wait_for_ticket(thread_id, kind="action")
    assert ticket["fallback"] == "ai"

    [expired] = await queue.recorder.wait_for(TicketExpired, in_thread(thread_id), timeout=15)
    assert (expired.ticket_id, expired.kind, expired.fallback) == (
        ticket["ticket_id"],
        "action",
        "ai",
    )
    assert (expired.tool_call_id, expired.request_id) == (request.tool_call_id, request.request_id)
    assert expired.reason == f"nobody decided within {QUICK_S:g} s"

    late = await alex.post(f"/v1/tickets/{ticket['ticket_id']}/claim")
    assert (late.status_code, late.json()["code"]) == (409, "wrong_state")

    async def recorded() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = (await alex.ticket(ticket["ticket_id"]))["history"]
        return found if len(found) == 2 else None

    _, record = await eventually(recorded, what="the expiry in the history")
    assert (record["what"], record["reason"], record["by"]) == ("expired", expired.reason, None)


async def test_a_call_without_approval_is_exported(queue: Queue) -> None:
    thread_id = await queue.thread(department())
    run = ActionExecuted.first(
        thread_id=thread_id,
        tool_name="order_status",
        tool_call_id="call_free",
        message_id=uuid.uuid4(),
        idempotency_key="free-1",
        arguments={"order_id": "A-9"},
        outcome="failed",
        status_code=503,
        error="the tool is unavailable",
        duration_ms=3000,
        resent=True,
    )
    await queue.publish(run)

    async def exported() -> dict[str, Any] | None:
        lines = (await queue.admin_get("/v1/admin/actions")).text.splitlines()
        found = [json.loads(line) for line in lines if json.loads(line)["thread_id"] == thread_id]
        return found[0] if found else None

    record = await eventually(exported, what="the call in the export")
    assert (record["what"], record["ticket_id"], record["tool_name"]) == (
        "executed",
        None,
        "order_status",
    )
    assert (record["outcome"], record["error"], record["resent"]) == (
        "failed",
        "the tool is unavailable",
        True,
    )
    backwards = await queue.admin_get(
        "/v1/admin/actions", since="2026-03-02T00:00:00Z", until="2026-03-01T00:00:00Z"
    )
    assert (backwards.status_code, backwards.json()["code"]) == (422, "invalid_period")
