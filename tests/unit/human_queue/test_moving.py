"""Moving work on in-memory stores: transfers, a supervisor's assignment, takeovers, and
every refusal."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from baton_contracts import ThreadAssigned
from baton_human_queue.domain import (
    Agent,
    AtCapacityError,
    InvalidRequestError,
    NotHolderError,
    NotSupervisorError,
    QueueError,
    WrongDepartmentError,
    WrongStateError,
)
from baton_human_queue.moving import (
    AgentNotInDepartmentError,
    NotAiOwnedError,
    UnknownDepartmentError,
)
from baton_human_queue.staffing import UnknownAgentError
from baton_human_queue.tickets import Ticket
from baton_human_queue.usecases.moving import MovingWork

from .conftest import ALEX, BO, SAM, Queue

SUE = Agent("agent-sue", "Sue", ("billing",), role="supervisor")


def moving(queue: Queue, *, agents_may_take_over: bool = False) -> MovingWork:
    return MovingWork(
        tickets=queue.tickets,
        agents=queue.agents,
        departments=queue.departments,
        conversations=queue.conversations,
        config=queue.config,
        max_note_length=50,
        agents_may_take_over=agents_may_take_over,
        clock=queue.clock,
        freed=queue.assigner.freed,
        placed=queue.assigner.opened,
    )


@pytest.fixture
def work(queue: Queue) -> MovingWork:
    queue.enrol(SUE)
    return moving(queue)


def slots(queue: Queue, agent: Agent) -> list[str]:
    return [s.ticket_id for s in queue.agents.by_id[agent.agent_id].slots]


async def stored(queue: Queue, ticket: Ticket) -> Ticket:
    found = await queue.tickets.get(ticket.ticket_id)
    assert found is not None
    return found


async def test_the_holder_transfers_to_another_departments_queue_with_a_note(
    queue: Queue, work: MovingWork
) -> None:
    claimed = await queue.claimed()  # Alex, billing
    moved = await work.transfer(
        ALEX, claimed.ticket_id, department="shipping", note="Parcel lost, not billing."
    )

    assert (moved.status, moved.department, moved.holder) == ("pending", "shipping", None)
    thread = await queue.conversations.require_thread(claimed.thread_id)
    assert (thread.department, thread.owner, thread.assigned_agent) == ("shipping", "human", None)
    assert slots(queue, ALEX) == []
    [note] = queue.note_store.stored.values()
    assert (note.text, note.department, note.author.agent_id) == (
        "Parcel lost, not billing.",
        "shipping",
        ALEX.agent_id,
    )
    [claim] = queue.claim_log.claims.values()
    assert claim.outcome == "transferred"
    # Shipping's agent sees it now; Alex, of billing only, does not.
    assert (await queue.claims.claim(BO, claimed.ticket_id)).holder.agent_id == BO.agent_id  # type: ignore[union-attr]
    with pytest.raises(WrongDepartmentError):
        await queue.claims.claim(ALEX, claimed.ticket_id)


async def test_a_transfers_follow_ups_carried_out_again_store_the_note_once(
    queue: Queue, work: MovingWork
) -> None:
    claimed = await queue.claimed()
    queue.publisher.down = True  # the follow-ups wait on the ticket for the sweep
    await work.transfer(ALEX, claimed.ticket_id, department="shipping", note="See the call log.")
    waiting = queue.tickets.follow_ups_of(claimed.ticket_id)
    queue.publisher.down = False
    await queue.tickets.deliver(claimed.ticket_id, waiting)
    await queue.tickets._outbox.carry_out(waiting)  # and once more, as a sweep after a crash

    assert len(queue.note_store.stored) == 1
    thread = await queue.conversations.require_thread(claimed.thread_id)
    assert thread.department == "shipping"


async def test_a_transfer_to_a_named_agent_is_their_claim(queue: Queue, work: MovingWork) -> None:
    claimed = await queue.claimed()
    moved = await work.transfer(ALEX, claimed.ticket_id, department="support", agent_id="agent-sam")

    assert (moved.status, moved.department) == ("assigned", "support")
    assert moved.holder is not None
    assert (moved.holder.agent_id, moved.holder.department) == (SAM.agent_id, "support")
    assert (slots(queue, ALEX), slots(queue, SAM)) == ([], [claimed.ticket_id])
    [*_, assigned] = queue.published(ThreadAssigned)
    assert (assigned.agent_id, assigned.owner) == (SAM.agent_id, "human")
    assert "transferred" in assigned.reason


async def test_a_transfer_into_an_auto_assigned_department_hands_the_ticket_out(
    queue: Queue, work: MovingWork
) -> None:
    await queue.assigner.set_policy("shipping", "least_busy")
    await queue.staff.set_status(BO, "online")
    claimed = await queue.claimed()

    moved = await work.transfer(ALEX, claimed.ticket_id, department="shipping")

    assert moved.holder is not None
    assert (moved.status, moved.holder.agent_id) == ("assigned", BO.agent_id)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, InvalidRequestError),
        ({"department": "nowhere"}, UnknownDepartmentError),
        ({"agent_id": "agent-nobody"}, UnknownAgentError),
        ({"department": "shipping", "agent_id": "agent-sam"}, AgentNotInDepartmentError),
        ({"department": "support", "note": "x" * 51}, QueueError),
    ],
)
async def test_a_transfer_to_nowhere_or_nobody_is_refused_and_changes_nothing(
    queue: Queue, work: MovingWork, fields: dict[str, Any], error: type[QueueError]
) -> None:
    claimed = await queue.claimed()
    with pytest.raises(error):
        await work.transfer(ALEX, claimed.ticket_id, **fields)
    assert await stored(queue, claimed) == claimed
    assert slots(queue, SAM) == []


async def test_only_the_holder_or_a_supervisor_transfers_an_open_ticket(
    queue: Queue, work: MovingWork
) -> None:
    claimed = await queue.claimed()
    with pytest.raises(NotHolderError):
        await work.transfer(SAM, claimed.ticket_id, department="support")
    pending = await queue.conversation()
    with pytest.raises(NotHolderError):
        await work.transfer(ALEX, pending.ticket_id, department="support")

    # A supervisor moves anyone's ticket, held or waiting.
    assert (await work.transfer(SUE, claimed.ticket_id, department="support")).status == "pending"
    assert (await work.transfer(SUE, pending.ticket_id, agent_id="agent-sam")).status == "assigned"
    assert slots(queue, ALEX) == []

    done = await queue.claimed()
    await queue.holder.resolve(ALEX, done.ticket_id, "ai")
    with pytest.raises(WrongStateError):
        await work.transfer(SUE, done.ticket_id, department="support")


async def test_a_transfer_to_an_agent_at_capacity_is_refused(
    queue: Queue, work: MovingWork
) -> None:
    queue.enrol(dataclasses.replace(SAM, capacity=1))
    await queue.claimed(agent=SAM)
    claimed = await queue.claimed()
    with pytest.raises(AtCapacityError):
        await work.transfer(ALEX, claimed.ticket_id, agent_id="agent-sam")
    assert await stored(queue, claimed) == claimed
    assert len(slots(queue, SAM)) == 1


async def test_a_supervisor_assigns_over_a_claim_and_the_old_holder_gets_the_place_back(
    queue: Queue, work: MovingWork
) -> None:
    claimed = await queue.claimed()
    assigned = await work.assign(SUE, claimed.ticket_id, "agent-sam")

    assert assigned.holder is not None
    assert (assigned.status, assigned.holder.agent_id) == ("assigned", SAM.agent_id)
    assert (slots(queue, ALEX), slots(queue, SAM)) == ([], [claimed.ticket_id])
    assert await work.assign(SUE, claimed.ticket_id, "agent-sam") == assigned  # a repeat
    pending = await queue.conversation()
    assert (await work.assign(SUE, pending.ticket_id, "agent-alex")).status == "assigned"

    with pytest.raises(NotSupervisorError):
        await work.assign(ALEX, claimed.ticket_id, "agent-alex")
    with pytest.raises(AgentNotInDepartmentError):
        await work.assign(SUE, claimed.ticket_id, "agent-bo")
    with pytest.raises(UnknownAgentError):
        await work.assign(SUE, claimed.ticket_id, "agent-nobody")
    full = dataclasses.replace(BO, departments=("billing",), capacity=1)
    queue.enrol(full)
    await queue.claimed(agent=full)
    with pytest.raises(AtCapacityError):
        await work.assign(SUE, claimed.ticket_id, "agent-bo")
    assert (await stored(queue, claimed)).holder == assigned.holder


async def test_a_supervisor_takes_over_a_conversation_the_ai_owns(
    queue: Queue, work: MovingWork
) -> None:
    thread = await queue.thread("billing")
    await queue.user_says(thread, "hi")

    ticket = await work.take_over(SUE, thread.thread_id)

    assert ticket.holder is not None
    assert (ticket.kind, ticket.status, ticket.holder.agent_id) == (
        "conversation",
        "assigned",
        SUE.agent_id,
    )
    after = await queue.conversations.require_thread(thread.thread_id)
    assert (after.owner, after.assigned_agent) == ("human", SUE.agent_id)
    [assigned] = queue.published(ThreadAssigned)
    assert (assigned.previous_owner, assigned.owner) == ("ai", "human")
    assert assigned.reason.startswith("takeover:")
    assert slots(queue, SUE) == [ticket.ticket_id]
    # Taken over already: the same request returns the same ticket; anyone else is refused.
    assert (await work.take_over(SUE, thread.thread_id)).ticket_id == ticket.ticket_id
    queue.enrol(dataclasses.replace(SUE, agent_id="agent-sup2", name="Sid"))
    with pytest.raises(NotAiOwnedError):
        await work.take_over(dataclasses.replace(SUE, agent_id="agent-sup2"), thread.thread_id)


async def test_agents_take_over_only_where_configured_and_in_their_departments(
    queue: Queue, work: MovingWork
) -> None:
    thread = await queue.thread("billing")
    with pytest.raises(NotSupervisorError):
        await work.take_over(ALEX, thread.thread_id)

    allowed = moving(queue, agents_may_take_over=True)
    with pytest.raises(WrongDepartmentError):
        await allowed.take_over(BO, thread.thread_id)
    ticket = await allowed.take_over(ALEX, thread.thread_id)
    assert ticket.holder is not None
    assert ticket.holder.agent_id == ALEX.agent_id


async def test_a_takeover_by_a_full_agent_is_refused_and_leaves_no_ticket(
    queue: Queue, work: MovingWork
) -> None:
    queue.enrol(dataclasses.replace(SUE, capacity=1))
    await queue.claimed(agent=SUE)
    thread = await queue.thread("billing")
    with pytest.raises(AtCapacityError):
        await work.take_over(SUE, thread.thread_id)
    assert await queue.tickets.open_for_thread(thread.thread_id) is None
    assert (await queue.conversations.require_thread(thread.thread_id)).owner == "ai"
