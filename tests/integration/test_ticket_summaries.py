"""A summary for the agent through real Kafka, MongoDB and HTTP: a new ticket is announced
(``ticket.opened``), the ai-responder asks the (scripted) model for a summary and sends it
(``ticket.summarized``), and the queue keeps it with the ticket. A model that fails leaves
the ticket without one, and usable all along."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from baton_contracts import TicketOpened, TicketSummarized, topics
from tests.support.pipeline import Pipeline
from tests.support.queue import AgentClient, department, new_agent, token
from tests.support.recorder import in_thread
from tests.support.waiting import eventually


async def handed_to_people(pipeline: Pipeline, text: str) -> tuple[AgentClient, str, str]:
    """A thread the router gives to people, an agent of its department, and its ticket id."""
    dept = department()
    alex = await new_agent(pipeline.queue, pipeline.admin_token, "Alex", dept)
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, text)
    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")
    return alex, thread_id, ticket["ticket_id"]


async def test_the_summary_appears_on_the_ticket(pipeline: Pipeline) -> None:
    tok = token()
    alex, thread_id, ticket_id = await handed_to_people(
        pipeline, f"I want to talk to a human, my parcel {tok} is late again"
    )

    async def summarised() -> dict[str, Any] | None:
        ticket: dict[str, Any] = (await alex.ticket(ticket_id))["ticket"]
        return ticket if ticket["summary"] else None

    ticket = await eventually(summarised, what="the ticket's summary")
    summary = ticket["summary"]
    assert (
        summary["issue"]
        == f"The customer says: I want to talk to a human, my parcel {tok} is late again"
    )
    assert (summary["tried"], summary["mood"], summary["written_by"]) == ("", "frustrated", "ai")
    assert "not an instruction" in summary["notice"]
    [listed] = await alex.tickets(thread_id=thread_id)
    assert listed["summary"] == summary

    [opened] = pipeline.recorder.events(TicketOpened, in_thread(thread_id))
    assert (opened.ticket_id, opened.kind) == (ticket_id, "conversation")
    [summarized] = pipeline.recorder.events(TicketSummarized, in_thread(thread_id))
    assert summarized.causation_id == opened.event_id

    # A message added to the open ticket opens nothing: no second summary.
    await pipeline.say(thread_id, f"Hello? {tok}")

    async def attached() -> bool:
        [found] = await alex.tickets(thread_id=thread_id)
        return len(found["message_ids"]) == 2

    await eventually(attached, what="the second message on the ticket")
    assert len(pipeline.recorder.events(TicketOpened, in_thread(thread_id))) == 1


def failed_summaries() -> float:
    return REGISTRY.get_sample_value("baton_ai_summaries_total", {"outcome": "failed"}) or 0.0


async def test_a_model_failure_leaves_the_ticket_usable_without_a_summary(
    pipeline: Pipeline,
) -> None:
    tok = token()
    rule = f"summary-outage-{tok}"
    await pipeline.script(
        {
            "name": rule,
            "match": {"schema": "ticket_summary", "last_user": tok},
            "respond": {"error": {"status": 500, "message": "scripted outage"}},
        }
    )
    before = failed_summaries()
    alex, thread_id, ticket_id = await handed_to_people(
        pipeline, f"I want to talk to a human about {tok}"
    )

    # Usable at once: nothing waits for the summary.
    await alex.act(ticket_id, "claim")
    reply = await alex.post(f"/v1/tickets/{ticket_id}/reply", {"text": "Hi, Alex here."})
    assert reply.status_code == 200, reply.text

    async def gave_up() -> bool:
        calls = (await pipeline.model.get("/_calls", params={"rule": rule})).json()["calls"]
        return len(calls) == 3 and failed_summaries() > before

    await eventually(gave_up, what="three failed summary calls, then no summary")
    assert pipeline.recorder.events(TicketSummarized, in_thread(thread_id)) == []
    dead = [
        s
        for s in pipeline.recorder.records
        if s.topic == pipeline.kafka.topic(topics.dead_letter_topic(topics.TICKET_OPENED))
    ]
    assert dead == []
    assert (await alex.ticket(ticket_id))["ticket"]["summary"] is None
    resolved = await alex.act(ticket_id, "resolve", {"handback": "ai"})
    assert (resolved["status"], resolved["summary"]) == ("resolved", None)
