"""Question timeout through real Kafka, MongoDB and HTTP: the AI asks a person, nobody
answers in time, the queue's sweep closes the question (``ticket.expired``), and the AI goes
on by the department's fallback: it answers without the answer, or hands the conversation to
people. An answer that comes after is refused.

The pipeline's departments ``quick-ai`` and ``quick-human`` have a question timeout of a few
seconds (tests/support/pipeline.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import REGISTRY

from baton_contracts import Fallback, MessageSent, ThreadAssigned, TicketExpired, topics
from tests.support.pipeline import QUICK_QUESTION_S, QUICK_QUESTIONS, Pipeline
from tests.support.queue import AgentClient, new_agent, reply_rule, token
from tests.support.recorder import in_thread
from tests.support.waiting import eventually


async def unanswered_question(
    pipeline: Pipeline, fallback: Fallback
) -> tuple[AgentClient, str, dict[str, Any]]:
    """A thread where the AI asks a colleague (the scripted model's default for a question
    it cannot answer), in the department whose questions expire with ``fallback``."""
    dept = QUICK_QUESTIONS[fallback]
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    tok = token()
    await pipeline.script(
        reply_rule(tok, "Sorry, I could not confirm that yet.", 0.9, has_tool_result=True)
    )
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"Is my warranty claim {tok} approved?")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="question")
    return alex, thread_id, ticket


async def refused_late(alex: AgentClient, ticket_id: str) -> None:
    """An answer after the expiry is refused, whether or not the agent held the ticket."""
    late = await alex.post(f"/v1/tickets/{ticket_id}/answer", {"text": "It is approved."})
    assert (late.status_code, late.json()["code"]) == (409, "wrong_state"), late.text
    assert "expired: nobody answered within" in late.json()["detail"]


def from_the_ai(thread_id: str) -> Callable[[MessageSent], bool]:
    """The AI's replies in the thread (not Baton's notices to the user)."""
    return lambda sent: sent.thread_id == thread_id and sent.provider == "openai"


def replayed(pipeline: Pipeline) -> float:
    labels = {
        "service": "baton-ai-responder",
        "topic": pipeline.kafka.topic(topics.TICKET_EXPIRED),
        "outcome": "replayed",
    }
    return REGISTRY.get_sample_value("baton_events_handled_total", labels) or 0.0


async def test_an_unanswered_question_expires_and_the_ai_answers_without_it(
    pipeline: Pipeline,
) -> None:
    alex, thread_id, ticket = await unanswered_question(pipeline, "ai")
    assert ticket["fallback"] == "ai"
    assert ticket["expires_at"] is not None
    # Claimed in time or not, the answer that comes after the expiry is refused.
    claim = await alex.post(f"/v1/tickets/{ticket['ticket_id']}/claim")
    assert claim.status_code in (200, 409), claim.text

    [expired] = await pipeline.recorder.wait_for(TicketExpired, in_thread(thread_id))
    assert (expired.ticket_id, expired.kind, expired.fallback) == (
        ticket["ticket_id"],
        "question",
        "ai",
    )
    assert expired.tool_call_id == ticket["tool_call_id"]
    assert expired.reason == f"nobody answered within {QUICK_QUESTION_S:g} s"

    # The AI went on: its reply reaches the user, written after a tool result saying why.
    [sent] = await pipeline.recorder.wait_for(MessageSent, from_the_ai(thread_id))
    assert sent.text == "Sorry, I could not confirm that yet."
    history = (await alex.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    [result] = [m for m in history if m["role"] == "tool"]
    assert result["content"][0]["tool_call_id"] == ticket["tool_call_id"]
    assert "No colleague could answer in time" in result["content"][0]["result"]

    await refused_late(alex, ticket["ticket_id"])
    closed = (await alex.ticket(ticket["ticket_id"]))["ticket"]
    assert (closed["status"], closed["resolution"]) == ("resolved", None)
    assert closed["expired_at"] is not None
    assert closed["expiry_reason"] == expired.reason

    # Kafka delivers the expiry again: handled as a replay, nothing sent twice.
    before = replayed(pipeline)
    await pipeline.publish(expired)

    async def seen_again() -> bool:
        return replayed(pipeline) > before

    await eventually(seen_again, what="the replayed ticket.expired")
    assert len(pipeline.recorder.events(MessageSent, from_the_ai(thread_id))) == 1
    assert pipeline.recorder.events(ThreadAssigned, in_thread(thread_id)) == []


async def test_an_unanswered_question_expires_and_people_take_the_conversation(
    pipeline: Pipeline,
) -> None:
    alex, thread_id, ticket = await unanswered_question(pipeline, "human")
    assert ticket["fallback"] == "human"

    [expired] = await pipeline.recorder.wait_for(TicketExpired, in_thread(thread_id))
    assert expired.fallback == "human"

    # The AI handed the conversation over: the thread is people's, with an escalation.
    [assigned] = await pipeline.recorder.wait_for(ThreadAssigned, in_thread(thread_id))
    assert (assigned.owner, assigned.previous_owner) == ("human", "ai")
    assert assigned.reason.startswith("nobody answered the AI's question in time")
    [escalation] = await alex.wait_for_ticket(thread_id, kind="escalation")
    assert escalation["reason"] == assigned.reason
    history = (await alex.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    [result] = [m for m in history if m["role"] == "tool"]
    assert "handed to a person" in result["content"][0]["result"]
    assert pipeline.recorder.events(MessageSent, from_the_ai(thread_id)) == []

    await refused_late(alex, ticket["ticket_id"])
    # The person takes it from here, in the conversation ticket the escalation opened.
    await alex.act(escalation["ticket_id"], "claim")
    reply = await alex.post(
        f"/v1/tickets/{escalation['ticket_id']}/reply", {"text": "Hi, Alex here: approved."}
    )
    assert reply.status_code == 200, reply.text
