"""A question nobody answered in time (``ticket.expired``): the pending ``ask_human`` call
gets a result that says so and the AI answers without it (fallback ``ai``), or the
conversation goes to people (``human``); the request is closed either way, and handling the
same event again changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from baton_ai_responder.llm import ToolCall
from baton_contracts import Fallback, MessageSent, TicketExpired, ToolHumanRequested
from baton_runtime import Rejected

from .test_usecases import Setup, calls, only, reply

ASK = ToolCall("call-1", "ask_human", {"question": "Is order 7 shipped?", "context": "c"})


def expired(question: ToolHumanRequested, fallback: Fallback, **fields: Any) -> TicketExpired:
    return TicketExpired.caused_by(
        question,
        **{
            "ticket_id": "ticket-1",
            "kind": "question",
            "request_id": question.request_id,
            "tool_call_id": question.tool_call_id,
            "message_id": question.message_id,
            "reason": "nobody answered within 30 min",
            "fallback": fallback,
            **fields,
        },
    )


def tool_results(ai: Setup, thread_id: str) -> list[dict[str, Any]]:
    return [
        part
        for m in ai.conversations.messages.values()
        if m.thread_id == thread_id and m.role == "tool" and isinstance(m.content, list)
        for part in m.content
    ]


async def test_with_fallback_ai_the_turn_goes_on_without_the_answer() -> None:
    ai = Setup(calls(ASK), reply("I could not confirm it yet; it usually ships in 2 days."))
    route, events = await ai.route("Where is order 7?")
    question = only(events, ToolHumanRequested)

    event = expired(question, "ai")
    continued = await ai.responder.expired(event)

    sent = only(continued, MessageSent)
    assert (sent.text, sent.in_reply_to) == (
        "I could not confirm it yet; it usually ships in 2 days.",
        route.message_id,
    )
    assert sent.causation_id == event.event_id
    [result] = tool_results(ai, route.thread_id)
    assert result["tool_call_id"] == "call-1"
    assert "No colleague could answer in time (nobody answered within 30 min)" in result["result"]
    # The model saw the call answered with that result, and wrote its reply from there.
    assert any(
        m.get("role") == "tool" and m["content"] == result["result"] for m in ai.model.calls[1]
    )
    assert question.request_id in ai.requests.closed
    assert ai.assigned() == []

    # The same event again (a crash before its output was saved) stores and sends the same.
    ai.model.answers.append(reply("I could not confirm it yet; it usually ships in 2 days."))
    again = await ai.responder.expired(event)
    assert [e.event_id for e in again] == [e.event_id for e in continued]
    assert len(tool_results(ai, route.thread_id)) == 1


async def test_with_fallback_human_the_conversation_goes_to_people() -> None:
    ai = Setup(calls(ASK))
    route, events = await ai.route("Where is order 7?")
    question = only(events, ToolHumanRequested)

    handed = await ai.responder.expired(expired(question, "human"))

    escalation = only(handed, ToolHumanRequested)
    assert escalation.kind == "escalation"
    assert escalation.reason == (
        "nobody answered the AI's question in time: nobody answered within 30 min"
    )
    assert escalation.message_id == route.message_id
    [assigned] = ai.assigned()
    assert (assigned.owner, assigned.previous_owner) == ("human", "ai")
    [result] = tool_results(ai, route.thread_id)
    assert "handed to a person" in result["result"]
    assert question.request_id in ai.requests.closed
    assert len(ai.model.calls) == 1  # no model call: people write the reply
    assert not [e for e in handed if isinstance(e, MessageSent)]


async def test_an_expiry_of_no_known_request_is_rejected() -> None:
    ai = Setup(calls(ASK))
    _, events = await ai.route("Where is order 7?")
    question = only(events, ToolHumanRequested)
    stray = expired(question, "ai", request_id=uuid.uuid4(), tool_call_id="call-unknown")
    with pytest.raises(Rejected) as refused:
        await ai.responder.expired(stray)
    assert refused.value.code == "unknown_request"
