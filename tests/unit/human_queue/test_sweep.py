"""The sweep: lapsed claims back to the queue, SLA breaches flagged once, and follow-ups a
failure left on a ticket carried out later."""

from __future__ import annotations

import pytest

from baton_contracts import DraftApproved, ThreadAssigned, TicketLeaseExpired, TicketSlaBreached
from baton_human_queue.domain import NotHolderError

from .conftest import ALEX, SAM, Queue


async def test_a_lapsed_lease_puts_the_ticket_back_in_the_queue(queue: Queue) -> None:
    claimed = await queue.claimed("escalation")
    queue.clock.advance(minutes=10)
    await queue.sweep()

    back = await queue.tickets.get(claimed.ticket_id)
    assert back is not None
    assert (back.status, back.holder, back.claim_id) == ("pending", None, None)
    [expired] = queue.published(TicketLeaseExpired)
    assert (expired.agent.agent_id, expired.kind, expired.claimed_at) == (
        ALEX.agent_id,
        "escalation",
        claimed.claimed_at,
    )
    thread = await queue.conversations.require_thread(claimed.thread_id)
    assert (thread.owner, thread.assigned_agent) == ("human", None)
    assert "expired" in queue.published(ThreadAssigned)[-1].reason
    [span] = queue.claim_log.claims.values()
    assert (span.outcome, span.ended_at) == ("expired", claimed.lease_expires_at)

    with pytest.raises(NotHolderError):
        await queue.holder.reply(ALEX, claimed.ticket_id, "sorry, back", idempotency_key=None)
    assert (await queue.claims.claim(SAM, claimed.ticket_id)).status == "assigned"
    await queue.sweep()
    assert len(queue.published(TicketLeaseExpired)) == 1


async def test_a_live_lease_is_left_alone(queue: Queue) -> None:
    claimed = await queue.claimed()
    queue.clock.advance(minutes=9)
    await queue.sweep()
    assert (await queue.tickets.get(claimed.ticket_id)) == claimed
    assert queue.published(TicketLeaseExpired) == []


async def test_an_sla_breach_is_reported_once(queue: Queue) -> None:
    ticket = await queue.request("question")  # 15 minutes
    answered = await queue.claimed("question")
    await queue.holder.answer(ALEX, answered.ticket_id, "yes")
    queue.clock.advance(minutes=14)
    await queue.sweep()
    assert queue.published(TicketSlaBreached) == []

    queue.clock.advance(minutes=1)
    await queue.sweep()
    await queue.sweep()

    [breach] = queue.published(TicketSlaBreached)
    assert (breach.ticket_id, breach.kind, breach.status, breach.priority) == (
        ticket.ticket_id,
        "question",
        "pending",
        20,
    )
    flagged = await queue.tickets.get(ticket.ticket_id)
    assert flagged is not None
    assert (flagged.sla_breached, flagged.sla_breached_at) == (True, queue.clock())


async def test_follow_ups_left_by_a_failure_are_carried_out_by_the_sweep(queue: Queue) -> None:
    claimed = await queue.claimed("approval")
    queue.publisher.down = True

    approved = await queue.holder.approve(ALEX, claimed.ticket_id, "Edited.")

    assert approved.status == "resolved"  # the change is stored: the request succeeds
    assert queue.published(DraftApproved) == []
    waiting = queue.tickets.follow_ups_of(claimed.ticket_id)
    assert [e.kind for e in waiting] == ["claim_closed", "free_slot", "feedback", "event"]

    queue.publisher.down = False
    queue.clock.advance(seconds=4)
    await queue.sweep()
    assert queue.published(DraftApproved) == []  # younger than the grace: maybe still under way

    queue.clock.advance(seconds=1)
    await queue.sweep()
    [event] = queue.published(DraftApproved)
    assert event.text == "Edited."
    assert queue.tickets.follow_ups_of(claimed.ticket_id) == []
    assert len(await queue.feedback.since(None)) == 1

    await queue.sweep()
    assert len(queue.published(DraftApproved)) == 1


async def test_a_later_change_carries_out_what_an_earlier_one_left(queue: Queue) -> None:
    ticket = await queue.conversation()
    queue.claim_log.down = True
    await queue.claims.claim(ALEX, ticket.ticket_id)
    assert queue.published(ThreadAssigned) == []
    queue.claim_log.down = False

    await queue.claims.release(ALEX, ticket.ticket_id)

    # In order: the claim's follow-ups, then the release's.
    assert [e.agent_id for e in queue.published(ThreadAssigned)] == [ALEX.agent_id, None]
    [span] = queue.claim_log.claims.values()
    assert (span.agent_name, span.outcome) == ("Alex", "released")
    assert queue.tickets.follow_ups_of(ticket.ticket_id) == []
