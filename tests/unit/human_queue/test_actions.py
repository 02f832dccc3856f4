"""Action tickets: a tool call the AI proposes waits for a person, who approves it (as
proposed or edited, within the tool's JSON Schema) or denies it; nobody deciding in time
expires it. Every step lands in the action audit, and decisions in the feedback."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from baton_contracts import (
    ActionDecided,
    ActionExecuted,
    TicketExpired,
    TicketOpened,
    ToolAction,
)
from baton_human_queue.domain import (
    DepartmentTimeout,
    InvalidArgumentsError,
    InvalidRequestError,
    InvalidTextError,
    NotHolderError,
    QuestionTimeout,
    WrongKindError,
    WrongStateError,
    approved_arguments,
    check_arguments,
    check_tool_schema,
    same_arguments,
)
from baton_human_queue.notices import NOTICE_KINDS, NoticeRules
from baton_human_queue.staffing import StaffingRules
from baton_human_queue.tickets import ActionTicket
from baton_human_queue.usecases import ActionRecords, QueueConfig

from .conftest import ALEX, NOW, SAM, Queue

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "amount": {"type": "number", "maximum": 100},
        "items": {"type": "array", "items": {"$ref": "#/$defs/item"}},
    },
    "required": ["order_id", "amount"],
    "additionalProperties": False,
    "$defs": {"item": {"type": "object", "properties": {"sku": {"type": "string"}}}},
}
PROPOSED = {"order_id": "A-7", "amount": 40}


def refund(**fields: Any) -> ToolAction:
    return ToolAction(
        tool_name="refund",
        description="Refund an order, in part or in full.",
        parameters=SCHEMA,
        arguments=fields or PROPOSED,
        approval_reason="amount > 20",
    )


def action_fields(**fields: Any) -> dict[str, Any]:
    return {"action": refund(**fields), "tool_call_id": "call_refund"}


@pytest.fixture
def queue_config() -> QueueConfig:
    # The `checking` notice is what an action tells the user; other notices stay off.
    return QueueConfig(
        lease_s=600,
        max_text_length=100,
        context_messages=5,
        staffing=StaffingRules(default_capacity=50, away_after_s=300, failover_after_s=120),
        notices=NoticeRules(disable=tuple(k for k in NOTICE_KINDS if k != "checking")),
        action_timeout=QuestionTimeout(
            by_department={"support": DepartmentTimeout(after_s=60, fallback="human")}
        ),
    )


async def action_ticket(queue: Queue, department: str = "billing") -> ActionTicket:
    ticket = await queue.request("action", department, **action_fields())
    assert isinstance(ticket, ActionTicket)
    return ticket


async def held_action(queue: Queue) -> ActionTicket:
    ticket = await action_ticket(queue)
    claimed = await queue.claims.claim(ALEX, ticket.ticket_id)
    assert isinstance(claimed, ActionTicket)
    return claimed


def whats(queue: Queue, ticket_id: str) -> list[str]:
    records = sorted(
        (r for r in queue.action_audit.records.values() if r.ticket_id == ticket_id),
        key=lambda r: r.sort_key(),
    )
    return [r.what for r in records]


# ---------------------------------------------------------------- the pure rules


def test_arguments_the_schema_accepts_pass() -> None:
    check_arguments(SCHEMA, {"order_id": "A-7", "amount": 20, "items": [{"sku": "x"}]})


@pytest.mark.parametrize(
    ("arguments", "where", "why"),
    [
        ({"order_id": "A-7", "amount": 500}, "$.amount", "500 is greater than the maximum of 100"),
        ({"order_id": "A-7"}, "$", "'amount' is a required property"),
        ({"order_id": 7, "amount": 1}, "$.order_id", "7 is not of type 'string'"),
        ({"order_id": "A", "amount": 1, "items": [{"sku": 3}]}, "$.items[0].sku", "not of type"),
        ({"order_id": "A", "amount": 1, "note": "x"}, "$", "Additional properties"),
    ],
)
def test_arguments_the_schema_refuses_are_named_by_path(
    arguments: dict[str, Any], where: str, why: str
) -> None:
    with pytest.raises(InvalidArgumentsError) as refused:
        check_arguments(SCHEMA, arguments)
    assert refused.value.status == 422
    assert refused.value.code == "invalid_arguments"
    assert f"at {where}: " in refused.value.message
    assert why in refused.value.message


def test_the_approved_arguments_and_whether_they_were_edited() -> None:
    assert approved_arguments(SCHEMA, PROPOSED, None) == (PROPOSED, False)
    assert approved_arguments(SCHEMA, PROPOSED, {"amount": 40, "order_id": "A-7"}) == (
        PROPOSED,
        False,
    )
    assert approved_arguments(SCHEMA, PROPOSED, {"order_id": "A-7", "amount": 20}) == (
        {"order_id": "A-7", "amount": 20},
        True,
    )
    # Even as proposed, a call the schema refuses is never approved.
    with pytest.raises(InvalidArgumentsError):
        approved_arguments(SCHEMA, {"order_id": "A-7", "amount": 400}, None)


def test_arguments_are_compared_as_json() -> None:
    assert same_arguments({"a": 1, "b": [1, 2]}, {"b": [1, 2], "a": 1})
    # Python calls these equal; a tool receiving them does not.
    assert not same_arguments({"flag": True}, {"flag": 1})
    assert not same_arguments({"n": 1}, {"n": 1.0})


def test_a_tool_schema_must_be_a_json_schema() -> None:
    check_tool_schema(SCHEMA)
    with pytest.raises(InvalidRequestError, match="no valid JSON Schema"):
        check_tool_schema({"type": "no-such-type"})


# ---------------------------------------------------------------- opening


async def test_an_action_request_opens_an_action_ticket(queue: Queue) -> None:
    ticket = await action_ticket(queue)

    assert (ticket.kind, ticket.status, ticket.tool_call_id) == ("action", "pending", "call_refund")
    assert ticket.action == refund()
    assert ticket.priority == 30
    assert (ticket.expires_at, ticket.fallback) == (NOW + timedelta(minutes=30), "ai")
    [opened] = queue.published(TicketOpened)
    assert (opened.ticket_id, opened.kind) == (ticket.ticket_id, "action")
    # The user hears that the AI is checking with a colleague, as for a question.
    [notice] = [
        m
        for m in await queue.conversations.window(
            await queue.conversations.require_thread(ticket.thread_id), limit=10
        )
        if m.metadata.get("notice")
    ]
    assert notice.metadata["notice"] == "checking"
    [proposed] = queue.action_audit.records.values()
    assert (proposed.what, proposed.by, proposed.arguments) == ("proposed", None, PROPOSED)
    assert (proposed.tool_name, proposed.tool_call_id, proposed.reason) == (
        "refund",
        "call_refund",
        "amount > 20",
    )
    assert (proposed.request_id, proposed.at) == (ticket.request_id, NOW)


async def test_a_department_has_its_own_action_timeout(queue: Queue) -> None:
    ticket = await action_ticket(queue, "support")
    assert (ticket.expires_at, ticket.fallback) == (NOW + timedelta(seconds=60), "human")


@pytest.mark.parametrize(
    "fields",
    [
        {"tool_call_id": "call_1"},
        {"action": refund()},
        {
            "action": ToolAction(**{**refund().model_dump(), "parameters": {"type": 7}}),
            "tool_call_id": "c",
        },
    ],
)
async def test_an_action_request_without_its_call_is_refused(
    queue: Queue, fields: dict[str, Any]
) -> None:
    with pytest.raises(InvalidRequestError):
        await queue.request("action", **fields)
    assert queue.action_audit.records == {}


# ---------------------------------------------------------------- deciding


async def test_approving_as_proposed(queue: Queue) -> None:
    ticket = await held_action(queue)
    queue.clock.advance(minutes=2)

    done = await queue.holder.approve_action(ALEX, ticket.ticket_id, None)

    assert done.status == "resolved"
    assert done.resolution is not None
    assert (done.resolution.action, done.resolution.agent_id) == ("approve_action", ALEX.agent_id)
    [decided] = queue.published(ActionDecided)
    assert (decided.decision, decided.arguments, decided.edited) == ("approved", PROPOSED, False)
    assert (decided.ticket_id, decided.tool_call_id, decided.tool_name) == (
        ticket.ticket_id,
        "call_refund",
        "refund",
    )
    assert decided.request_id == ticket.request_id
    assert decided.agent.agent_id == ALEX.agent_id
    assert decided.event_id == ticket.event_id("approve_action:action.decided")
    assert whats(queue, ticket.ticket_id) == ["proposed", "approved"]
    [feedback] = queue.feedback.feedback.values()
    assert (feedback.kind, feedback.edited, feedback.arguments) == (
        "action_approval",
        False,
        PROPOSED,
    )


async def test_approving_with_edited_arguments(queue: Queue) -> None:
    ticket = await held_action(queue)
    edited = {"order_id": "A-7", "amount": 20}

    await queue.holder.approve_action(ALEX, ticket.ticket_id, edited)

    [decided] = queue.published(ActionDecided)
    assert (decided.decision, decided.arguments, decided.edited) == ("approved", edited, True)
    records = await queue.action_audit.of_ticket(ticket.ticket_id)
    assert [r.what for r in records] == ["proposed", "edited", "approved"]
    _, edit, approval = records
    assert (edit.previous_arguments, edit.arguments) == (PROPOSED, edited)
    assert edit.by is not None
    assert (edit.by.agent_id, edit.by.name) == (ALEX.agent_id, "Alex")
    assert (approval.arguments, approval.at) == (edited, queue.clock())
    [feedback] = queue.feedback.feedback.values()
    assert (feedback.kind, feedback.edited, feedback.arguments) == ("action_approval", True, edited)
    assert (feedback.ai_output.kind, feedback.ai_output.tool_name) == ("action", "refund")
    assert feedback.ai_output.arguments == PROPOSED
    assert feedback.ai_output.tool_call_id == "call_refund"


async def test_edited_arguments_the_schema_refuses_change_nothing(queue: Queue) -> None:
    ticket = await held_action(queue)

    with pytest.raises(InvalidArgumentsError, match=r"at \$\.amount: 900 is greater"):
        await queue.holder.approve_action(
            ALEX, ticket.ticket_id, {"order_id": "A-7", "amount": 900}
        )

    still = await queue.tickets.get(ticket.ticket_id)
    assert still is not None
    assert (still.status, still.resolution) == ("assigned", None)
    assert queue.published(ActionDecided) == []
    assert whats(queue, ticket.ticket_id) == ["proposed"]
    assert queue.feedback.feedback == {}


async def test_denying_with_a_reason(queue: Queue) -> None:
    ticket = await held_action(queue)

    done = await queue.holder.deny_action(ALEX, ticket.ticket_id, "Over the limit for agents")

    assert done.resolution is not None
    assert done.resolution.action == "deny_action"
    [decided] = queue.published(ActionDecided)
    assert (decided.decision, decided.reason, decided.arguments) == (
        "denied",
        "Over the limit for agents",
        None,
    )
    records = await queue.action_audit.of_ticket(ticket.ticket_id)
    assert [(r.what, r.reason) for r in records] == [
        ("proposed", "amount > 20"),
        ("denied", "Over the limit for agents"),
    ]
    [feedback] = queue.feedback.feedback.values()
    assert (feedback.kind, feedback.reason) == ("action_denial", "Over the limit for agents")


async def test_a_denial_needs_a_reason(queue: Queue) -> None:
    ticket = await held_action(queue)
    with pytest.raises(InvalidTextError):
        await queue.holder.deny_action(ALEX, ticket.ticket_id, "   ")
    assert queue.published(ActionDecided) == []


async def test_a_repeated_decision_is_done_once(queue: Queue) -> None:
    ticket = await held_action(queue)
    first = await queue.holder.approve_action(ALEX, ticket.ticket_id, None)
    again = await queue.holder.approve_action(ALEX, ticket.ticket_id, None)

    assert again.resolution == first.resolution
    assert len(queue.published(ActionDecided)) == 1
    assert whats(queue, ticket.ticket_id) == ["proposed", "approved"]


async def test_only_the_holder_decides(queue: Queue) -> None:
    ticket = await held_action(queue)
    with pytest.raises(NotHolderError):
        await queue.holder.deny_action(SAM, ticket.ticket_id, "no")
    with pytest.raises(NotHolderError):
        await queue.holder.approve_action(SAM, ticket.ticket_id, None)


async def test_the_actions_of_other_kinds_do_not_apply(queue: Queue) -> None:
    ticket = await held_action(queue)
    with pytest.raises(WrongKindError):
        await queue.holder.answer(ALEX, ticket.ticket_id, "yes")
    with pytest.raises(WrongKindError):
        await queue.holder.approve(ALEX, ticket.ticket_id, None)
    question = await queue.claimed("question")
    with pytest.raises(WrongKindError, match="approve_action applies to action tickets"):
        await queue.holder.approve_action(ALEX, question.ticket_id, None)
    with pytest.raises(WrongKindError):
        await queue.holder.deny_action(ALEX, question.ticket_id, "no")


# ---------------------------------------------------------------- expiry and execution


async def test_an_action_nobody_decides_expires(queue: Queue) -> None:
    ticket = await held_action(queue)
    queue.clock.advance(minutes=31)

    await queue.sweep.expirations()

    [expired] = queue.published(TicketExpired)
    assert (expired.kind, expired.tool_call_id, expired.fallback) == ("action", "call_refund", "ai")
    assert expired.reason == "nobody decided within 30 min"
    records = await queue.action_audit.of_ticket(ticket.ticket_id)
    assert [(r.what, r.reason, r.by) for r in records][-1] == (
        "expired",
        "nobody decided within 30 min",
        None,
    )
    with pytest.raises(WrongStateError, match="expired: nobody decided"):
        await queue.holder.approve_action(ALEX, ticket.ticket_id, None)


def executed(ticket_id: str | None, thread_id: str, **fields: Any) -> ActionExecuted:
    return ActionExecuted.first(
        thread_id=thread_id,
        tool_name="refund",
        tool_call_id="call_refund",
        message_id=uuid.uuid4(),
        ticket_id=ticket_id,
        idempotency_key="key-1",
        arguments={"order_id": "A-7", "amount": 20},
        outcome="failed",
        status_code=502,
        error="bad gateway",
        duration_ms=120,
        **fields,
    )


async def test_an_executed_call_is_recorded_once(queue: Queue) -> None:
    ticket = await held_action(queue)
    await queue.holder.approve_action(ALEX, ticket.ticket_id, None)
    records = ActionRecords(audit=queue.action_audit)
    event = executed(ticket.ticket_id, ticket.thread_id, request_id=ticket.request_id)

    assert await records.executed(event)
    assert not await records.executed(event)  # Kafka delivers it again

    history = await records.history(ticket)
    assert [r.what for r in history] == ["proposed", "approved", "executed"]
    run = history[-1]
    assert (run.outcome, run.status_code, run.error, run.duration_ms, run.resent) == (
        "failed",
        502,
        "bad gateway",
        120,
        False,
    )
    assert (run.idempotency_key, run.by) == ("key-1", None)


async def test_a_call_that_needed_no_approval_is_exported_without_a_ticket(queue: Queue) -> None:
    records = ActionRecords(audit=queue.action_audit)
    await records.executed(executed(None, "thread-1"))

    [record] = await records.export(None, None)
    assert (record.what, record.ticket_id, record.thread_id) == ("executed", None, "thread-1")
    later = record.at + timedelta(seconds=1)
    assert await records.export(later, None) == []
    assert await records.export(None, record.at) == []


async def test_other_tickets_have_no_history(queue: Queue) -> None:
    question = await queue.request("question")
    assert await ActionRecords(audit=queue.action_audit).history(question) == []
