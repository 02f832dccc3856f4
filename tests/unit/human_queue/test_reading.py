"""What agents read: the queue in order, a ticket with its thread, a thread, its ownership."""

from __future__ import annotations

from datetime import timedelta

import pytest

from baton_conversations import UnknownThreadError
from baton_human_queue.domain import NoTicketError, WrongDepartmentError

from .conftest import ALEX, BO, EVERYONE, SAM, Queue


async def test_the_queue_is_in_priority_order_and_by_department(queue: Queue) -> None:
    conversation = await queue.conversation()
    queue.clock.advance(seconds=1)
    question = await queue.request("question")
    queue.clock.advance(seconds=1)
    later_question = await queue.request("question")
    approval = await queue.request("approval")
    shared = await queue.request("question", department=None)
    queue.clock.advance(seconds=1)
    shipping = await queue.request("question", department="shipping")

    seen = await queue.reading.search(ALEX, statuses=("pending",))
    assert [t.ticket_id for t in seen] == [
        approval.ticket_id,
        question.ticket_id,  # equal priority: oldest first
        later_question.ticket_id,
        shared.ticket_id,
        conversation.ticket_id,
    ]
    assert [t.ticket_id for t in await queue.reading.search(BO, statuses=("pending",))] == [
        shared.ticket_id,
        shipping.ticket_id,
    ]
    with pytest.raises(WrongDepartmentError, match="does not serve department 'billing'"):
        await queue.reading.search(BO, statuses=("pending",), department="billing")
    assert len(await queue.reading.search(EVERYONE, statuses=("pending",), kind="approval")) == 1


async def test_the_holders_look_renews_the_lease_and_shows_the_thread(queue: Queue) -> None:
    claimed = await queue.claimed()
    thread = await queue.conversations.require_thread(claimed.thread_id)
    for i in range(6):
        await queue.user_says(thread, f"message {i}")
    queue.clock.advance(minutes=5)

    looked = await queue.reading.look(ALEX, claimed.ticket_id)

    assert looked.ticket.lease_expires_at == queue.clock() + timedelta(minutes=10)
    assert looked.thread is not None
    assert (looked.thread.owner, looked.thread.assigned_agent) == ("human", ALEX.agent_id)
    assert [m.text for m in looked.messages] == [f"message {i}" for i in range(1, 6)]
    others = await queue.reading.look(SAM, claimed.ticket_id)  # anyone else's look renews nothing
    assert others.ticket.lease_expires_at == looked.ticket.lease_expires_at
    with pytest.raises(WrongDepartmentError):
        await queue.reading.look(BO, claimed.ticket_id)


async def test_a_thread_is_read_by_its_departments_agents(queue: Queue) -> None:
    ticket = await queue.conversation()
    thread, messages = await queue.reading.thread_messages(ALEX, ticket.thread_id, limit=10)
    assert (thread.thread_id, len(messages)) == (ticket.thread_id, 1)
    with pytest.raises(WrongDepartmentError, match="does not serve") as refused:
        await queue.reading.thread_messages(BO, ticket.thread_id, limit=10)
    assert refused.value.status == 403
    with pytest.raises(UnknownThreadError) as unknown:
        await queue.reading.thread_messages(ALEX, "no-such-thread", limit=10)
    assert (unknown.value.status, unknown.value.code) == (404, "unknown_thread")


async def test_a_threads_ownership_is_its_changes_oldest_first(queue: Queue) -> None:
    claimed = await queue.claimed()
    queue.clock.advance(minutes=1)
    await queue.holder.resolve(ALEX, claimed.ticket_id, "ai")
    await queue.record_ownership()

    changes = await queue.reading.ownership(SAM, claimed.thread_id)

    assert [(c.previous_owner, c.owner, c.agent_id) for c in changes] == [
        ("ai", "human", ALEX.agent_id),
        ("human", "ai", None),
    ]
    assert changes[0].reason == f"Alex claimed ticket {claimed.ticket_id}"
    with pytest.raises(WrongDepartmentError):
        await queue.reading.ownership(BO, claimed.thread_id)
    with pytest.raises(UnknownThreadError):
        await queue.reading.ownership(ALEX, "no-such-thread")


async def test_a_thread_without_a_department_is_everyones_once_handed_to_people(
    queue: Queue,
) -> None:
    ticket = await queue.conversation(department=None)
    assert await queue.reading.ownership(BO, ticket.thread_id) == []


async def test_a_thread_never_handed_to_people_is_no_agents_business(queue: Queue) -> None:
    thread = await queue.thread(department=None)
    await queue.user_says(thread, "the AI answers this one")
    with pytest.raises(NoTicketError, match="has no ticket"):
        await queue.reading.thread_messages(ALEX, thread.thread_id, limit=10)
    with pytest.raises(NoTicketError):
        await queue.reading.ownership(BO, thread.thread_id)
