"""Claims and leases: one winner, one holder at a time, renewals, releases, take-overs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from baton_contracts import ThreadAssigned, TicketLeaseExpired
from baton_human_queue.domain import (
    Agent,
    AlreadyClaimedError,
    NotHolderError,
    QueueError,
    UnknownTicketError,
    WrongDepartmentError,
    WrongStateError,
)

from .conftest import ALEX, BO, NOW, SAM, Queue


async def test_a_claim_holds_the_ticket_and_gives_the_holder_the_thread(queue: Queue) -> None:
    ticket = await queue.conversation()
    claimed = await queue.claims.claim(ALEX, ticket.ticket_id)

    assert claimed.status == "assigned"
    assert claimed.holder is not None
    assert (claimed.holder.agent_id, claimed.holder.department) == (ALEX.agent_id, "billing")
    assert (claimed.claimed_at, claimed.lease_expires_at) == (NOW, NOW + timedelta(minutes=10))
    assert claimed.first_claimed_at == NOW
    thread = await queue.conversations.require_thread(ticket.thread_id)
    assert (thread.owner, thread.assigned_agent) == ("human", ALEX.agent_id)
    [assigned] = queue.published(ThreadAssigned)
    assert assigned.reason == f"Alex claimed ticket {ticket.ticket_id}"
    assert (assigned.correlation_id, assigned.causation_id) == (
        ticket.correlation_id,
        ticket.source_event_id,
    )
    [span] = queue.claim_log.claims.values()
    assert (span.agent_name, span.ended_at) == ("Alex", None)
    assert queue.tickets.follow_ups_of(ticket.ticket_id) == []


async def test_of_fifty_concurrent_claims_exactly_one_wins(queue: Queue) -> None:
    ticket = await queue.conversation()
    agents = [Agent(f"agent-{i}", f"Agent {i}", ("billing",)) for i in range(50)]
    queue.enrol(*agents)

    outcomes = await asyncio.gather(
        *(queue.claims.claim(a, ticket.ticket_id) for a in agents), return_exceptions=True
    )

    winners = [a for a, o in zip(agents, outcomes, strict=True) if not isinstance(o, Exception)]
    assert len(winners) == 1
    [winner] = winners
    refusals = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refusals) == 49
    assert all(isinstance(r, AlreadyClaimedError) for r in refusals)
    assert all(f"claimed by {winner.name}" in str(r) for r in refusals)
    assert [e.agent_id for e in queue.published(ThreadAssigned)] == [winner.agent_id]
    assert len(queue.claim_log.claims) == 1


async def test_the_holder_claiming_again_renews_the_lease(queue: Queue) -> None:
    claimed = await queue.claimed()
    queue.clock.advance(minutes=5)

    renewed = await queue.claims.claim(ALEX, claimed.ticket_id)

    assert renewed.lease_expires_at == queue.clock() + timedelta(minutes=10)
    assert (renewed.claim_id, renewed.claimed_at) == (claimed.claim_id, claimed.claimed_at)
    assert len(queue.published(ThreadAssigned)) == 1


async def test_nobody_else_may_claim_while_the_lease_runs(queue: Queue) -> None:
    claimed = await queue.claimed()
    queue.clock.advance(minutes=9)
    with pytest.raises(AlreadyClaimedError, match="claimed by Alex") as refused:
        await queue.claims.claim(SAM, claimed.ticket_id)
    assert (refused.value.status, refused.value.code) == (409, "already_claimed")


async def test_a_lapsed_claim_is_taken_over_by_the_next_claimer(queue: Queue) -> None:
    claimed = await queue.claimed()
    queue.clock.advance(minutes=11)

    taken = await queue.claims.claim(SAM, claimed.ticket_id)

    assert taken.holder is not None
    assert taken.holder.agent_id == SAM.agent_id
    assert taken.first_claimed_at == NOW
    [expired] = queue.published(TicketLeaseExpired)
    assert (expired.agent.name, expired.lease_expired_at) == ("Alex", claimed.lease_expires_at)
    assert [e.agent_id for e in queue.published(ThreadAssigned)] == [
        ALEX.agent_id,
        None,  # Alex's claim lapsed
        SAM.agent_id,
    ]
    spans = await queue.claim_log.for_tickets([claimed.ticket_id])
    assert [(s.agent_name, s.outcome) for s in spans] == [("Alex", "expired"), ("Sam", None)]
    thread = await queue.conversations.require_thread(claimed.thread_id)
    assert thread.assigned_agent == SAM.agent_id


async def test_release_puts_the_ticket_back_at_once(queue: Queue) -> None:
    claimed = await queue.claimed()
    queue.clock.advance(minutes=1)

    released = await queue.claims.release(ALEX, claimed.ticket_id)

    assert (released.status, released.holder, released.lease_expires_at) == (
        "pending",
        None,
        None,
    )
    thread = await queue.conversations.require_thread(claimed.thread_id)
    assert (thread.owner, thread.assigned_agent) == ("human", None)
    last = queue.published(ThreadAssigned)[-1]
    assert (last.agent_id, last.reason) == (None, f"Alex released ticket {claimed.ticket_id}")
    [span] = queue.claim_log.claims.values()
    assert (span.outcome, span.ended_at) == ("released", queue.clock())
    assert (await queue.claims.claim(SAM, claimed.ticket_id)).holder is not None


async def test_only_the_holder_releases_even_after_its_lease_ran_out(queue: Queue) -> None:
    claimed = await queue.claimed()
    with pytest.raises(NotHolderError, match="claimed by Alex"):
        await queue.claims.release(SAM, claimed.ticket_id)
    queue.clock.advance(minutes=11)
    assert (await queue.claims.release(ALEX, claimed.ticket_id)).status == "pending"
    with pytest.raises(NotHolderError, match="claim it first"):
        await queue.claims.release(ALEX, claimed.ticket_id)


async def test_a_request_ticket_claim_leaves_the_threads_owner_alone(queue: Queue) -> None:
    claimed = await queue.claimed("question")
    assert claimed.status == "assigned"
    assert queue.published(ThreadAssigned) == []
    thread = await queue.conversations.require_thread(claimed.thread_id)
    assert thread.assigned_agent is None


@pytest.mark.parametrize(
    ("agent", "ticket_id", "error", "status", "code"),
    [
        (BO, None, WrongDepartmentError, 403, "wrong_department"),
        (ALEX, "no-such-ticket", UnknownTicketError, 404, "unknown_ticket"),
    ],
)
async def test_claims_the_agent_may_not_make_are_refused(
    queue: Queue,
    agent: Agent,
    ticket_id: str | None,
    error: type[QueueError],
    status: int,
    code: str,
) -> None:
    ticket = await queue.conversation()
    with pytest.raises(error) as refused:
        await queue.claims.claim(agent, ticket_id or ticket.ticket_id)
    assert (refused.value.status, refused.value.code) == (status, code)


async def test_a_resolved_ticket_cannot_be_claimed(queue: Queue) -> None:
    claimed = await queue.claimed()
    await queue.holder.resolve(ALEX, claimed.ticket_id, "ai")
    with pytest.raises(WrongStateError, match="resolved") as refused:
        await queue.claims.claim(SAM, claimed.ticket_id)
    assert refused.value.code == "wrong_state"
