"""A summary for the agent: a new conversation, escalation or question ticket is announced
(``ticket.opened``, from the ticket's outbox), and the AI's summary (``ticket.summarized``)
is kept with the ticket once, whatever its state, and shown first in its view."""

from __future__ import annotations

from baton_contracts import TicketOpened, TicketSummarized, TicketSummary
from baton_human_queue.api.views import AI_WORDS, TicketView
from baton_human_queue.usecases import Summaries

from .conftest import ALEX, Queue, routed

SUMMARY = TicketSummary(
    issue="Order 7 has not arrived.", tried="The AI asked shipping.", mood="frustrated"
)


def summarized(
    ticket_id: str, thread_id: str, summary: TicketSummary = SUMMARY
) -> TicketSummarized:
    return TicketSummarized.first(thread_id=thread_id, ticket_id=ticket_id, summary=summary)


async def test_a_new_ticket_is_announced_for_the_kinds_the_ai_summarises(queue: Queue) -> None:
    conversation = await queue.conversation()
    escalation = await queue.request("escalation")
    question = await queue.request("question")
    await queue.request("approval")

    opened = {e.ticket_id: e for e in queue.published(TicketOpened)}
    assert set(opened) == {conversation.ticket_id, escalation.ticket_id, question.ticket_id}
    event = opened[question.ticket_id]
    assert (event.kind, event.message_id, event.priority, event.department, event.reason) == (
        "question",
        question.user_message_id,
        question.priority,
        "billing",
        question.reason,
    )
    assert (event.thread_id, event.correlation_id, event.causation_id) == (
        question.thread_id,
        question.correlation_id,
        question.source_event_id,
    )


async def test_a_message_attached_to_an_open_ticket_is_no_new_ticket(queue: Queue) -> None:
    ticket = await queue.conversation()
    thread = await queue.conversations.require_thread(ticket.thread_id)
    route = routed(thread, await queue.user_says(thread, "anyone there?"))
    await queue.intake.open_conversation(route)
    await queue.intake.open_conversation(route)  # and Kafka delivers it again

    [opened] = queue.published(TicketOpened)
    assert opened.ticket_id == ticket.ticket_id
    [still] = await queue.reading.search(
        ALEX, statuses=("pending", "assigned", "resolved"), thread_id=ticket.thread_id
    )
    assert len(still.message_ids) == 2


async def test_the_announcement_kafka_missed_goes_out_with_the_sweep_once(queue: Queue) -> None:
    queue.publisher.down = True
    ticket = await queue.conversation()  # stored all the same: the queue works on
    assert queue.published(TicketOpened) == []
    waiting = [
        e.decoded() for e in queue.tickets.follow_ups_of(ticket.ticket_id) if e.kind == "event"
    ]
    assert [type(e) for e in waiting if isinstance(e, TicketOpened)] == [TicketOpened]

    queue.publisher.down = False
    queue.clock.advance(seconds=5)
    await queue.sweep()
    await queue.sweep()
    assert [e.ticket_id for e in queue.published(TicketOpened)] == [ticket.ticket_id]


async def test_the_first_summary_is_kept_once_even_on_a_closed_ticket(queue: Queue) -> None:
    summaries = Summaries(tickets=queue.tickets, clock=queue.clock)
    ticket = await queue.claimed("question")
    await queue.holder.answer(ALEX, ticket.ticket_id, "yes")
    queue.clock.advance(seconds=3)

    event = summarized(ticket.ticket_id, ticket.thread_id)
    await summaries.keep(event)
    await summaries.keep(event)  # a replay
    other = TicketSummary(issue="Something else.", tried="", mood="angry")
    await summaries.keep(summarized(ticket.ticket_id, ticket.thread_id, other))

    kept = await queue.tickets.get(ticket.ticket_id)
    assert kept is not None
    assert (kept.summary, kept.summarized_at, kept.status) == (SUMMARY, queue.clock(), "resolved")
    assert kept.updated_at == queue.clock()  # so the console's live stream tells of it


async def test_a_summary_for_another_thread_or_no_ticket_changes_nothing(queue: Queue) -> None:
    summaries = Summaries(tickets=queue.tickets, clock=queue.clock)
    ticket = await queue.conversation()
    await summaries.keep(summarized(ticket.ticket_id, "another-thread"))
    await summaries.keep(summarized("no-such-ticket", ticket.thread_id))
    unchanged = await queue.tickets.get(ticket.ticket_id)
    assert unchanged is not None
    assert unchanged.summary is None


async def test_the_ticket_view_carries_the_summary_as_the_ais_words(queue: Queue) -> None:
    ticket = await queue.conversation()
    assert TicketView.of(ticket).summary is None
    await Summaries(tickets=queue.tickets, clock=queue.clock).keep(
        summarized(ticket.ticket_id, ticket.thread_id)
    )
    kept = await queue.tickets.get(ticket.ticket_id)
    assert kept is not None

    view = TicketView.of(kept).model_dump(mode="json")["summary"]
    assert view == {
        "written_by": "ai",
        "notice": AI_WORDS,
        "issue": "Order 7 has not arrived.",
        "tried": "The AI asked shipping.",
        "mood": "frustrated",
        "written_at": queue.clock().isoformat().replace("+00:00", "Z"),
    }
