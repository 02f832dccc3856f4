"""A turn's calls of configured tools (actions): run at once, proposed for approval, run
once after approval, denied or expired, with the use cases' in-memory fakes."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from baton_ai_responder.llm import ToolCall
from baton_ai_responder.store import Execution
from baton_ai_responder.tools import Toolbox, ToolOutcome, tool_error
from baton_contracts import (
    ActionDecided,
    ActionExecuted,
    Event,
    HumanAgent,
    MessageSent,
    ThreadAssigned,
    TicketExpired,
    ToolHumanRequested,
    derive_id,
)

from .test_usecases import Setup, calls, only, reply

AGENT = HumanAgent(agent_id="agent-1", name="Alex", department="support")
SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
    "required": ["order_id"],
    "additionalProperties": False,
}


@dataclass
class FakeTool:
    """A configured tool that records its calls; calls over ``limit`` need approval."""

    name: str = "refund"
    description: str = "Refund an order."
    limit: float | None = None
    departments: tuple[str, ...] | None = None
    fails: bool = False
    audited: bool = True
    received: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    @property
    def parameters(self) -> Mapping[str, Any]:
        return SCHEMA

    def available_to(self, department: str | None) -> bool:
        return self.departments is None or department in self.departments

    def invalid(self, arguments: Mapping[str, Any]) -> str | None:
        if not isinstance(arguments.get("order_id"), str):
            return "order_id: a string is required"
        return None

    def approval_reason(self, arguments: Mapping[str, Any]) -> str | None:
        if self.limit is not None and float(arguments.get("amount", 0)) > self.limit:
            return f"amount > {self.limit:g}"
        return None

    async def call(self, arguments: Mapping[str, Any], *, idempotency_key: str) -> ToolOutcome:
        self.received.append((dict(arguments), idempotency_key))
        if self.fails:
            return tool_error("HTTP 503", status_code=503)
        return ToolOutcome(ok=True, content=json.dumps({"refunded": arguments["order_id"]}))


def call(name: str = "refund", **arguments: Any) -> ToolCall:
    return ToolCall(id=f"call-{uuid.uuid4().hex[:8]}", name=name, arguments=arguments)


def result_of(ai: Setup, tool_call_id: str) -> str:
    """The stored result of a tool call, as the model reads it."""
    for message in ai.conversations.messages.values():
        if message.role == "tool" and isinstance(message.content, list):
            part = message.content[0]
            if part["tool_call_id"] == tool_call_id:
                return str(part["result"])
    raise AssertionError(f"no result for {tool_call_id}")


def decided(request: ToolHumanRequested, **fields: Any) -> ActionDecided:
    assert request.action is not None
    assert request.tool_call_id is not None
    defaults: dict[str, Any] = {
        "decision": "approved",
        "arguments": request.action.arguments,
        "edited": False,
    }
    return ActionDecided.caused_by(
        request,
        purpose="action.decided",
        ticket_id="ticket-1",
        request_id=request.request_id,
        tool_call_id=request.tool_call_id,
        tool_name=request.action.tool_name,
        agent=AGENT,
        **{**defaults, **fields},
    )


async def proposed(ai: Setup, tool: FakeTool, **arguments: Any) -> ToolHumanRequested:
    ai.model.answers[:0] = [calls(call(**arguments))]
    _, events = await ai.route("Pay me back for my order please")
    request: ToolHumanRequested = only(events, ToolHumanRequested)
    return request


async def test_a_tool_needing_no_approval_runs_and_the_reply_follows() -> None:
    tool = FakeTool()
    ai = Setup(reply("Paid back."), tools=Toolbox([tool]))
    ai.model.answers.insert(0, calls(first := call(order_id="42")))
    _, events = await ai.route("Pay me back for order 42")

    assert [a for a, _ in tool.received] == [{"order_id": "42"}]
    assert json.loads(result_of(ai, first.id)) == {"refunded": "42"}
    executed = only(events, ActionExecuted)
    assert (executed.outcome, executed.request_id, executed.resent) == ("succeeded", None, False)
    assert executed.idempotency_key == tool.received[0][1]
    # The action is announced before the reply it led to.
    assert [type(e) for e in events] == [ActionExecuted, MessageSent]


async def test_invalid_arguments_never_reach_the_tool() -> None:
    tool = FakeTool(limit=0)
    ai = Setup(reply("Which order?"), tools=Toolbox([tool]))
    ai.model.answers.insert(0, calls(bad := call(amount=5)))
    _, events = await ai.route("Pay me back please")

    assert tool.received == []
    assert "invalid arguments" in result_of(ai, bad.id)
    assert only(events, MessageSent).text == "Which order?"
    assert [e for e in events if isinstance(e, ToolHumanRequested)] == []


async def test_a_call_needing_approval_waits_for_a_person() -> None:
    tool = FakeTool(limit=50)
    ai = Setup(tools=Toolbox([tool]))
    request = await proposed(ai, tool, order_id="42", amount=80)

    assert request.kind == "action"
    assert request.action is not None
    assert (request.action.tool_name, request.action.arguments) == (
        "refund",
        {"order_id": "42", "amount": 80},
    )
    assert request.action.approval_reason == "amount > 50"
    assert request.action.parameters == SCHEMA
    assert tool.received == []
    stored = await ai.requests.get(request.request_id)
    assert stored is not None
    assert stored.tool_name == "refund"


async def test_an_approved_call_runs_once_even_when_the_decision_comes_again() -> None:
    tool = FakeTool(limit=50)
    ai = Setup(reply("Paid back: done."), reply("Paid back again."), tools=Toolbox([tool]))
    request = await proposed(ai, tool, order_id="42", amount=80)
    approval = decided(request)

    events = await ai.responder.decided(approval)
    again = await ai.responder.decided(approval)  # a replay of the same decision

    key = str(derive_id(approval.event_id, "idempotency-key"))
    assert tool.received == [({"order_id": "42", "amount": 80}, key)]
    first, second = only(events, ActionExecuted), only(again, ActionExecuted)
    assert first.event_id == second.event_id  # announced under one id
    assert (first.ticket_id, first.request_id) == ("ticket-1", request.request_id)
    assert json.loads(result_of(ai, request.tool_call_id or "")) == {"refunded": "42"}
    assert only(events, MessageSent).in_reply_to == request.message_id
    assert request.request_id in ai.requests.closed


async def test_a_call_whose_end_was_never_recorded_is_sent_again_with_the_same_key() -> None:
    tool = FakeTool(limit=50)
    ai = Setup(reply("Done."), tools=Toolbox([tool]))
    request = await proposed(ai, tool, order_id="42", amount=80)
    approval = decided(request)
    key = str(derive_id(approval.event_id, "idempotency-key"))
    # A crash after the record said "started" and before it said "done".
    ai.executions.records[key] = Execution(key=key, done=False, attempts=1)

    events = await ai.responder.decided(approval)

    assert [k for _, k in tool.received] == [key]
    assert only(events, ActionExecuted).resent is True
    assert ai.executions.records[key].done


async def test_edited_arguments_run_and_the_model_is_told_of_the_edit() -> None:
    tool = FakeTool(limit=50)
    ai = Setup(reply("Paid back 60."), tools=Toolbox([tool]))
    request = await proposed(ai, tool, order_id="42", amount=80)

    edited = {"order_id": "42", "amount": 60}
    await ai.responder.decided(decided(request, arguments=edited, edited=True))

    assert [a for a, _ in tool.received] == [edited]
    told = json.loads(result_of(ai, request.tool_call_id or ""))
    assert told["arguments"] == edited
    assert "Alex changed the arguments" in told["note"]


async def test_a_denied_call_never_runs_and_the_model_reads_why() -> None:
    tool = FakeTool(limit=50)
    ai = Setup(reply("Sorry, not this time."), tools=Toolbox([tool]))
    request = await proposed(ai, tool, order_id="42", amount=80)

    events = await ai.responder.decided(
        decided(request, decision="denied", arguments=None, reason="over the policy limit")
    )

    assert tool.received == []
    assert json.loads(result_of(ai, request.tool_call_id or "")) == {
        "denied": True,
        "reason": "over the policy limit",
        "by": "Alex",
    }
    assert only(events, MessageSent).text == "Sorry, not this time."
    assert [e for e in events if isinstance(e, ActionExecuted)] == []


async def test_an_expired_approval_is_a_denial_with_reason_expired() -> None:
    tool = FakeTool(limit=50)
    ai = Setup(reply("Nobody could approve that yet."), tools=Toolbox([tool]))
    request = await proposed(ai, tool, order_id="42", amount=80)

    expired = TicketExpired.caused_by(
        request,
        purpose="ticket.expired",
        ticket_id="ticket-1",
        kind="action",
        request_id=request.request_id,
        tool_call_id=request.tool_call_id,
        message_id=request.message_id,
        reason="nobody answered within 30 min",
        fallback="ai",
    )
    events = await ai.responder.expired(expired)

    assert tool.received == []
    assert json.loads(result_of(ai, request.tool_call_id or ""))["reason"] == "expired"
    assert only(events, MessageSent).text == "Nobody could approve that yet."


async def test_a_tool_of_another_department_is_neither_offered_nor_run() -> None:
    tool = FakeTool(departments=("billing",))
    box = Toolbox([tool])
    assert "refund" in [d["function"]["name"] for d in box.definitions("billing")]
    assert "refund" not in [d["function"]["name"] for d in box.definitions("support")]

    ai = Setup(reply("I cannot do that."), tools=box)  # Setup's threads are "support"
    ai.model.answers.insert(0, calls(attempt := call(order_id="42")))
    await ai.route("Pay me back for order 42")

    assert tool.received == []
    assert "unknown tool" in result_of(ai, attempt.id)


async def test_a_tool_failing_through_every_step_hands_the_thread_to_people() -> None:
    tool = FakeTool(fails=True)
    ai = Setup(
        *(calls(call(order_id="42")) for _ in range(3)),
        tools=Toolbox([tool]),
    )
    _, events = await ai.route("Pay me back for order 42")

    assert len(tool.received) == 3
    request = only(events, ToolHumanRequested)
    assert request.kind == "escalation"
    assert request.reason.startswith("tool_failed: refund")
    assert [e.outcome for e in events if isinstance(e, ActionExecuted)] == ["failed"] * 3
    assert ai.assigned()[-1].owner == "human"


def _names(events: list[Event]) -> list[str]:
    return [e.type for e in events]


async def test_a_second_action_in_one_step_waits_for_the_first() -> None:
    tool = FakeTool(limit=0)
    ai = Setup(tools=Toolbox([tool]))
    ai.model.answers.insert(
        0, calls(call(order_id="1", amount=5), second := call(order_id="2", amount=5))
    )
    _, events = await ai.route("Pay both back")

    assert _names(events) == ["tool.human_requested"]
    assert "propose this call again" in result_of(ai, second.id)
    assert tool.received == []
    assert [e for e in events if isinstance(e, ThreadAssigned)] == []


async def test_a_turn_run_again_keeps_the_calls_its_first_run_stored() -> None:
    """After a crash the turn runs again and the model names its calls anew; the request
    must refer to the call the thread holds, or its result would answer no call."""
    tool = FakeTool(limit=0)
    first, again = call(order_id="42", amount=5), call(order_id="42", amount=5)
    ai = Setup(calls(first), calls(again), tools=Toolbox([tool]))
    route, events = await ai.route("Pay me back for order 42")
    rerun = await ai.responder.route(route)

    asked, asked_again = only(events, ToolHumanRequested), only(rerun, ToolHumanRequested)
    assert asked.tool_call_id == asked_again.tool_call_id == first.id
    assert asked.event_id == asked_again.event_id
