"""AI actions end to end on real Kafka and MongoDB: the session pipeline's tools file
(tests/support/pipeline.py) points at a real HTTP tool server and a real MCP server, and
people decide on actions through the human-queue API."""

from __future__ import annotations

import uuid
from typing import Any

from pymongo import AsyncMongoClient

from baton_contracts import (
    ActionDecided,
    ActionExecuted,
    MessageSent,
    TicketExpired,
    ToolHumanRequested,
    derive_id,
)
from baton_runtime import Document
from tests.support.pipeline import (
    ACTIONS,
    ACTIONS_BILLING,
    QUICK_ACTION,
    TOOL_TOKEN,
    Pipeline,
)
from tests.support.queue import AgentClient, new_agent, reply_rule, token
from tests.support.recorder import in_thread
from tests.support.tool_servers import RecordedRequest
from tests.support.waiting import eventually

AI_RESPONDER = "baton-ai-responder"


def call_rule(tok: str, name: str, **arguments: Any) -> dict[str, Any]:
    """A scripted-model rule: the first step of a turn on ``tok`` calls ``name``."""
    return {
        "name": f"call-{tok}",
        "match": {"last_user": tok, "schema": "assistant_reply", "has_tool_result": False},
        "respond": {"tool_calls": [{"name": name, "arguments": arguments}]},
    }


def reached(pipeline: Pipeline, fragment: str) -> list[RecordedRequest]:
    """The requests the HTTP tool server received with ``fragment`` in their path."""
    return [c for c in pipeline.tools.calls if fragment in c.path]


async def tools_offered(pipeline: Pipeline, tok: str) -> set[str]:
    """The tools the model was offered in the calls about ``tok``."""
    calls = (await pipeline.model.get("/_calls", params={"contains": tok})).json()["calls"]
    return {t["function"]["name"] for c in calls for t in c["request"].get("tools", [])}


async def actions_agent(pipeline: Pipeline, *departments: str) -> AgentClient:
    return await new_agent(
        pipeline.queue, pipeline.admin_token, f"Approver {uuid.uuid4().hex[:4]}", *departments
    )


async def approve(agent: AgentClient, thread_id: str, body: dict[str, Any]) -> dict[str, Any]:
    [ticket] = await agent.wait_for_ticket(thread_id, kind="action")
    await agent.act(ticket["ticket_id"], "claim")
    return await agent.act(ticket["ticket_id"], "approve-action", body)


async def test_a_tool_needing_no_approval_runs_and_the_reply_uses_its_result(
    pipeline: Pipeline,
) -> None:
    tok = token()
    order = f"A-{tok}"
    await pipeline.script(
        call_rule(tok, "order_status", order_id=order),
        reply_rule(tok, "Here is what I found: {tool_result}", has_tool_result=True),
    )
    thread_id = await pipeline.new_thread(department=ACTIONS)
    await pipeline.say(thread_id, f"Where is my order? {tok}")

    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    [executed] = pipeline.recorder.events(ActionExecuted, in_thread(thread_id))
    [request] = reached(pipeline, order)
    assert (request.method, request.path) == ("GET", f"/orders/{order}")
    assert request.idempotency_key == executed.idempotency_key
    assert (executed.tool_name, executed.outcome, executed.status_code) == (
        "order_status",
        "succeeded",
        200,
    )
    assert executed.ticket_id is None
    assert f"/orders/{order}" in sent.text  # the tool's answer reached the reply
    assert pipeline.recorder.events(ToolHumanRequested, in_thread(thread_id)) == []


async def test_an_action_approved_with_edits_runs_once_even_when_replayed(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    db = mongo_client[pipeline.mongo.database]
    tok = token()
    order = f"B-{tok}"
    await pipeline.script(
        call_rule(tok, "credit_order", order_id=order, amount=80),
        reply_rule(tok, "Credited: {tool_result}", has_tool_result=True),
    )
    thread_id = await pipeline.new_thread(department=ACTIONS)
    message_id = await pipeline.say(thread_id, f"Please credit my order {tok}")

    [request] = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(thread_id))
    assert request.kind == "action"
    assert request.action is not None
    assert (request.action.tool_name, request.action.arguments) == (
        "credit_order",
        {"order_id": order, "amount": 80},
    )
    assert request.action.approval_reason == "amount > 50"
    assert request.message_id == message_id
    assert not reached(pipeline, order)  # nothing runs yet

    agent = await actions_agent(pipeline, ACTIONS)
    # Edited arguments outside the schema are refused, and nothing is decided.
    [ticket] = await agent.wait_for_ticket(thread_id, kind="action")
    await agent.act(ticket["ticket_id"], "claim")
    refused = await agent.post(
        f"/v1/tickets/{ticket['ticket_id']}/approve-action",
        {"arguments": {"order_id": order, "amount": "sixty"}},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "invalid_arguments"
    await agent.act(
        ticket["ticket_id"], "approve-action", {"arguments": {"order_id": order, "amount": 60}}
    )

    [decided] = await pipeline.recorder.wait_for(ActionDecided, in_thread(thread_id))
    assert (decided.decision, decided.edited, decided.arguments) == (
        "approved",
        True,
        {"order_id": order, "amount": 60},
    )
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text.startswith("Credited: ")
    assert sent.in_reply_to == message_id
    key = str(derive_id(decided.event_id, "idempotency-key"))
    [call] = reached(pipeline, order)
    assert (call.method, call.path, call.json) == (
        "POST",
        f"/orders/{order}/credits",
        {"amount": 60},
    )
    assert call.idempotency_key == key
    assert call.headers["authorization"] == f"Bearer {TOOL_TOKEN}"
    [executed] = await pipeline.recorder.wait_for(ActionExecuted, in_thread(thread_id))
    assert (executed.ticket_id, executed.request_id) == (ticket["ticket_id"], request.request_id)

    # A replay after the handled-events log lost the decision (a crash before it was
    # marked handled): the execution record alone keeps the call from running again.
    await db["handled_events"].delete_one({"_id": f"{AI_RESPONDER}:{decided.event_id}"})
    await pipeline.publish(decided)
    await pipeline.recorder.wait_for(ActionExecuted, in_thread(thread_id), count=2)
    again = pipeline.recorder.events(ActionExecuted, in_thread(thread_id))
    assert {e.event_id for e in again} == {executed.event_id}  # the same announcement
    assert len(reached(pipeline, order)) == 1
    assert pipeline.tools.effects_of(key) == 1

    # The queue's audit has the whole story, in the ticket's history.
    async def executed_in_history() -> list[dict[str, Any]] | None:
        history: list[dict[str, Any]] = (await agent.ticket(ticket["ticket_id"]))["history"]
        return history if any(h["what"] == "executed" for h in history) else None

    history = await eventually(executed_in_history, what="the executed record")
    assert [h["what"] for h in history] == ["proposed", "edited", "approved", "executed"]
    assert history[2]["by"]["agent_id"] == agent.agent_id


async def test_a_denied_action_never_runs_and_the_ai_answers_with_the_denial(
    pipeline: Pipeline,
) -> None:
    tok = token()
    order = f"C-{tok}"
    await pipeline.script(
        call_rule(tok, "credit_order", order_id=order, amount=500),
        reply_rule(tok, "Sorry: {tool_result}", has_tool_result=True),
    )
    thread_id = await pipeline.new_thread(department=ACTIONS)
    await pipeline.say(thread_id, f"Credit everything {tok}")
    agent = await actions_agent(pipeline, ACTIONS)
    [ticket] = await agent.wait_for_ticket(thread_id, kind="action")
    await agent.act(ticket["ticket_id"], "claim")
    await agent.act(ticket["ticket_id"], "deny-action", {"reason": "over the policy limit"})

    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert "over the policy limit" in sent.text
    assert not reached(pipeline, order)
    assert pipeline.recorder.events(ActionExecuted, in_thread(thread_id)) == []


async def test_an_action_nobody_decides_on_expires_as_a_denial(pipeline: Pipeline) -> None:
    tok = token()
    order = f"D-{tok}"
    await pipeline.script(
        call_rule(tok, "credit_order", order_id=order, amount=90),
        reply_rule(tok, "Not yet: {tool_result}", has_tool_result=True),
    )
    thread_id = await pipeline.new_thread(department=QUICK_ACTION)
    await pipeline.say(thread_id, f"Credit me now {tok}")

    [expired] = await pipeline.recorder.wait_for(TicketExpired, in_thread(thread_id))
    assert (expired.kind, expired.fallback) == ("action", "ai")
    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert '"reason": "expired"' in sent.text
    assert not reached(pipeline, order)


async def test_a_tool_limited_to_another_department_is_not_offered(pipeline: Pipeline) -> None:
    tok = token()
    customer = f"E-{tok}"
    await pipeline.script(
        call_rule(tok, "close_account", customer_id=customer),
        reply_rule(tok, "Result: {tool_result}", has_tool_result=True),
    )
    thread_id = await pipeline.new_thread(department=ACTIONS)
    await pipeline.say(thread_id, f"Close my account {tok}")

    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert "unknown tool" in sent.text
    assert not reached(pipeline, customer)
    # What the model was offered on that thread: not close_account.
    offered = await tools_offered(pipeline, tok)
    assert "close_account" not in offered
    assert "credit_order" in offered

    # A thread of the department it serves is offered it (and asks for approval).
    tok2 = token()
    await pipeline.script(call_rule(tok2, "close_account", customer_id=customer))
    billing = await pipeline.new_thread(department=ACTIONS_BILLING)
    await pipeline.say(billing, f"Close my account {tok2}")
    [request] = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(billing))
    assert request.action is not None
    assert request.action.approval_reason == "always"


async def test_mcp_tools_are_listed_and_called(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document]
) -> None:
    db = mongo_client[pipeline.mongo.database]
    tok = token()
    order = f"F-{tok}"
    await pipeline.script(
        call_rule(tok, "create_refund", order_id=order, amount=20),
        reply_rule(tok, "The shop system confirmed it.", has_tool_result=True),
    )
    thread_id = await pipeline.new_thread(department=ACTIONS)
    await pipeline.say(thread_id, f"A small credit please {tok}")

    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert sent.text == "The shop system confirmed it."
    result = await db["messages"].find_one({"thread_id": thread_id, "role": "tool"})
    assert result is not None
    assert result["content"][0]["result"] == f"refunded 20 on order {order}"
    [executed] = pipeline.recorder.events(ActionExecuted, in_thread(thread_id))
    [call] = [c for c in pipeline.mcp.calls if c.arguments.get("order_id") == order]
    assert call.idempotency_key == executed.idempotency_key
    offered = await tools_offered(pipeline, tok)
    assert "create_refund" in offered
    assert "close_account" not in offered  # the include list filters it out


async def test_invalid_arguments_never_reach_the_tool(pipeline: Pipeline) -> None:
    tok = token()
    order = f"G-{tok}"
    await pipeline.script(
        call_rule(tok, "credit_order", order_id=order, amount="a lot"),
        reply_rule(tok, "Hmm: {tool_result}", has_tool_result=True),
    )
    thread_id = await pipeline.new_thread(department=ACTIONS)
    await pipeline.say(thread_id, f"Credit it {tok}")

    [sent] = await pipeline.recorder.wait_for(MessageSent, in_thread(thread_id))
    assert "invalid arguments" in sent.text
    assert not reached(pipeline, order)
    assert pipeline.recorder.events(ToolHumanRequested, in_thread(thread_id)) == []


async def test_a_tool_failing_at_every_try_hands_the_conversation_to_people(
    pipeline: Pipeline,
) -> None:
    tok = token()
    order = f"H-{tok}"
    # The model tries the tool at every step of the turn; the endpoint fails each time.
    await pipeline.script(
        {
            "name": f"retry-{tok}",
            "match": {"last_user": tok, "schema": "assistant_reply"},
            "respond": {"tool_calls": [{"name": "order_status", "arguments": {"order_id": order}}]},
        }
    )
    thread_id = await pipeline.new_thread(department=ACTIONS)
    pipeline.tools.fail_status = 503
    try:
        await pipeline.say(thread_id, f"Where is it? {tok}")
        [request] = await pipeline.recorder.wait_for(ToolHumanRequested, in_thread(thread_id))
    finally:
        pipeline.tools.fail_status = None

    assert request.kind == "escalation"
    assert request.reason.startswith("tool_failed: order_status")
    executed = pipeline.recorder.events(ActionExecuted, in_thread(thread_id))
    assert [(e.outcome, e.status_code) for e in executed] == [("failed", 503)] * 3
    assert len(reached(pipeline, order)) == 3
    assert pipeline.recorder.events(MessageSent, in_thread(thread_id)) == []
