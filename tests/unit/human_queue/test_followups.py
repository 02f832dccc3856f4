"""Follow-ups: entries that survive storage as written, and appliers that change nothing when
an entry is carried out again."""

from __future__ import annotations

import uuid

from baton_contracts import HumanResponded, MessageSent, ThreadAssigned
from baton_human_queue import followups as fx
from baton_human_queue.tickets import Ticket
from baton_runtime import Entry

from .conftest import ALEX, NOW, Queue


def round_trip(entry: Entry) -> Entry:
    return Entry.from_document(entry.to_document())


async def test_an_owner_change_is_made_and_announced_once(queue: Queue) -> None:
    ticket: Ticket = await queue.conversation()
    entry = fx.assign(ticket, "claim:c-1", owner="human", agent_id="a-1", reason="Alex claimed")
    assert round_trip(entry) == entry
    assert entry.id == f"assign:{ticket.because('claim:c-1').event_id}"
    apply = fx.FollowUps(
        conversations=queue.conversations,
        claims=queue.claim_log,
        feedback=queue.feedback,
        agents=queue.agents,
    )

    await apply.assign(entry.data)
    await apply.assign(entry.data)

    [event] = queue.published(ThreadAssigned)
    assert event.event_id == ticket.event_id("claim:c-1:thread.assigned")
    assert (event.correlation_id, event.causation_id) == (
        ticket.correlation_id,
        ticket.source_event_id,
    )
    thread = await queue.conversations.require_thread(ticket.thread_id)
    assert thread.assigned_agent == "a-1"


async def test_a_reply_is_stored_and_announced_once(queue: Queue) -> None:
    ticket = await queue.conversation()
    message_id = uuid.uuid4()
    responded = HumanResponded.first(
        thread_id=ticket.thread_id,
        kind="reply",
        ticket_id=ticket.ticket_id,
        message_id=message_id,
        text="Hi",
        agent=ALEX.acting_for("billing"),
    )
    sent = MessageSent.first(
        thread_id=ticket.thread_id,
        message_id=message_id,
        text="Hi",
        agent_name="Alex",
        provider="human",
    )
    reply = fx.ReplyMessage(
        message_id=message_id,
        thread_id=ticket.thread_id,
        text="Hi",
        agent_name="Alex",
        metadata={"ticket_id": ticket.ticket_id},
        in_reply_to=ticket.user_message_id,
        created_at=NOW,
        responded=responded,
        sent=sent,
    )
    entry = fx.store_reply(reply)
    assert round_trip(entry) == entry
    apply = fx.FollowUps(
        conversations=queue.conversations,
        claims=queue.claim_log,
        feedback=queue.feedback,
        agents=queue.agents,
    )

    await apply.store_reply(entry.data)
    await apply.store_reply(entry.data)

    stored = queue.conversations.thread_messages(ticket.thread_id)
    assert [(m.role, m.provider, m.text) for m in stored] == [
        ("user", "user", "hello"),
        ("assistant", "human", "Hi"),
    ]
    assert queue.published(HumanResponded) == [responded]
    assert queue.published(MessageSent) == [sent]


async def test_claims_are_opened_and_closed_once(queue: Queue) -> None:
    ticket = await queue.conversation()
    opened = fx.open_claim(
        fx.ClaimOpened(
            claim_id="c-1",
            ticket_id=ticket.ticket_id,
            thread_id=ticket.thread_id,
            kind=ticket.kind,
            department=ticket.department,
            agent_id=ALEX.agent_id,
            agent_name="Alex",
            ticket_created_at=ticket.created_at,
            claimed_at=NOW,
        )
    )
    closed = fx.close_claim("c-1", NOW, "released")
    assert closed.id == "claim_closed:c-1"
    apply = fx.FollowUps(
        conversations=queue.conversations,
        claims=queue.claim_log,
        feedback=queue.feedback,
        agents=queue.agents,
    )
    for entry in (opened, closed, opened, fx.close_claim("c-1", NOW, "expired")):
        await apply.kinds()[entry.kind](round_trip(entry).data)

    [span] = await queue.claim_log.for_tickets([ticket.ticket_id])
    assert (span.agent_name, span.outcome) == ("Alex", "released")
