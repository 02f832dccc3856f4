"""What the holder does: reply, answer, approve (with an edit), reject, resolve with handback,
and what anyone else is refused."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from baton_contracts import (
    DraftApproved,
    DraftRejected,
    HumanResponded,
    MessageSent,
    ThreadAssigned,
    derive_id,
)
from baton_human_queue.domain import (
    InvalidTextError,
    LeaseExpiredError,
    NotHolderError,
    NotInTicketError,
    WrongKindError,
    WrongStateError,
)
from baton_human_queue.tickets import ApprovalTicket, QuestionTicket

from .conftest import ALEX, SAM, Queue, routed


async def test_a_reply_goes_to_the_user_under_the_agents_name(queue: Queue) -> None:
    claimed = await queue.claimed()
    queue.clock.advance(seconds=30)

    reply = await queue.holder.reply(
        ALEX, claimed.ticket_id, "Hi, Alex here.", idempotency_key=None
    )

    message = queue.conversations.messages[reply.message_id]
    assert (message.role, message.content, message.agent_name, message.provider) == (
        "assistant",
        "Hi, Alex here.",
        "Alex",
        "human",
    )
    assert message.in_reply_to == claimed.user_message_id
    assert message.metadata["provider_metadata"]["human"] == {
        "agent_id": ALEX.agent_id,
        "name": "Alex",
        "department": "billing",
        "response_time_ms": 30_000,
    }
    [responded] = queue.published(HumanResponded)
    [sent] = queue.published(MessageSent)
    assert (responded.kind, responded.message_id, responded.ticket_id) == (
        "reply",
        reply.message_id,
        claimed.ticket_id,
    )
    assert (sent.message_id, sent.agent_name, sent.user_id, sent.channel) == (
        reply.message_id,
        "Alex",
        "u-1",
        "web",
    )
    assert reply.ticket.first_response_at == queue.clock()
    assert reply.ticket.lease_expires_at == queue.clock() + timedelta(minutes=10)
    assert reply.ticket.status == "assigned"


async def test_a_reply_answers_the_message_it_names_though_a_newer_one_came_in(
    queue: Queue,
) -> None:
    claimed = await queue.claimed()
    thread = await queue.conversations.require_thread(claimed.thread_id)
    newer = await queue.user_says(thread, "are you there?")
    await queue.intake.open_conversation(routed(thread, newer))

    named = await queue.holder.reply(
        ALEX,
        claimed.ticket_id,
        "About your first message",
        idempotency_key=None,
        in_reply_to=claimed.user_message_id,
    )
    latest = await queue.holder.reply(ALEX, claimed.ticket_id, "And yes", idempotency_key=None)

    assert [e.in_reply_to for e in queue.published(MessageSent)] == [
        claimed.user_message_id,
        newer,
    ]
    assert queue.conversations.messages[named.message_id].in_reply_to == claimed.user_message_id
    assert queue.conversations.messages[latest.message_id].in_reply_to == newer
    with pytest.raises(NotInTicketError):
        await queue.holder.reply(
            ALEX, claimed.ticket_id, "Hm", idempotency_key=None, in_reply_to=uuid.uuid4()
        )
    assert len(queue.published(MessageSent)) == 2


async def test_a_reply_with_the_same_key_is_sent_once(queue: Queue) -> None:
    claimed = await queue.claimed()
    first = await queue.holder.reply(ALEX, claimed.ticket_id, "Hello", idempotency_key="k1")
    again = await queue.holder.reply(ALEX, claimed.ticket_id, "Hello", idempotency_key="k1")
    other = await queue.holder.reply(ALEX, claimed.ticket_id, "Hello", idempotency_key=None)

    assert first.message_id == again.message_id != other.message_id
    assert first.message_id == derive_id(uuid.UUID(claimed.ticket_id), f"reply:{ALEX.agent_id}:k1")
    assert [e.message_id for e in queue.published(MessageSent)] == [
        first.message_id,
        other.message_id,
    ]
    assert len(queue.conversations.thread_messages(claimed.thread_id)) == 3  # user + 2


async def test_a_reply_on_an_escalation_is_feedback_on_the_ais_suggestion(queue: Queue) -> None:
    claimed = await queue.claimed("escalation", suggestion="Restart the router")
    await queue.holder.reply(ALEX, claimed.ticket_id, "Hold reset 10 s", idempotency_key="k")

    [feedback] = await queue.feedback.since(None)
    assert (feedback.kind, feedback.human_text) == ("reply", "Hold reset 10 s")
    assert (feedback.ai_output.kind, feedback.ai_output.text) == (
        "suggestion",
        "Restart the router",
    )


async def test_an_answer_resolves_the_question_and_the_ai_continues(queue: Queue) -> None:
    claimed = await queue.claimed("question")
    assert isinstance(claimed, QuestionTicket)

    answered = await queue.holder.answer(ALEX, claimed.ticket_id, "It shipped Monday.")

    assert answered.status == "resolved"
    assert answered.resolution is not None
    assert (answered.resolution.action, answered.resolution.agent_name) == ("answer", "Alex")
    [responded] = queue.published(HumanResponded)
    assert (responded.kind, responded.text, responded.tool_call_id, responded.request_id) == (
        "answer",
        "It shipped Monday.",
        "call_1",
        claimed.request_id,
    )
    [feedback] = await queue.feedback.since(None)
    assert (feedback.kind, feedback.ai_output.text) == ("answer", "Did order 7 ship?")
    [span] = queue.claim_log.claims.values()
    assert span.outcome == "resolved"
    # The same request again finds it done and sends nothing more.
    again = await queue.holder.answer(ALEX, claimed.ticket_id, "It shipped Monday.")
    assert again.status == "resolved"
    assert len(queue.published(HumanResponded)) == 1


@pytest.mark.parametrize(
    ("text", "sent", "edited"),
    [
        (None, "Your refund is on its way.", False),
        ("Your refund of 25 EUR is on its way.", "Your refund of 25 EUR is on its way.", True),
    ],
)
async def test_approval_sends_the_draft_or_the_edit(
    queue: Queue, text: str | None, sent: str, edited: bool
) -> None:
    claimed = await queue.claimed("approval")
    assert isinstance(claimed, ApprovalTicket)

    approved = await queue.holder.approve(ALEX, claimed.ticket_id, text)

    assert approved.status == "resolved"
    [event] = queue.published(DraftApproved)
    assert (event.text, event.edited, event.draft_message_id) == (
        sent,
        edited,
        claimed.draft_message_id,
    )
    [feedback] = await queue.feedback.since(None)
    assert (feedback.kind, feedback.edited, feedback.human_text) == ("approval", edited, sent)
    assert feedback.ai_output.message_id == claimed.draft_message_id


async def test_an_empty_draft_needs_a_text_to_be_approved(queue: Queue) -> None:
    claimed = await queue.claimed("approval", draft_text=None)
    with pytest.raises(InvalidTextError, match="approve it with a text"):
        await queue.holder.approve(ALEX, claimed.ticket_id, None)
    assert (await queue.holder.approve(ALEX, claimed.ticket_id, "Sent.")).status == "resolved"


async def test_rejection_returns_the_draft_with_a_review(queue: Queue) -> None:
    claimed = await queue.claimed("approval")
    rejected = await queue.holder.reject(ALEX, claimed.ticket_id, "Too casual")

    assert rejected.status == "resolved"
    [event] = queue.published(DraftRejected)
    assert (event.review, event.agent.name) == ("Too casual", "Alex")
    [feedback] = await queue.feedback.since(None)
    assert (feedback.kind, feedback.review) == ("rejection", "Too casual")


async def test_resolving_with_handback_ai_gives_the_thread_back_to_the_ai(queue: Queue) -> None:
    claimed = await queue.claimed()
    resolved = await queue.holder.resolve(ALEX, claimed.ticket_id, "ai")

    assert resolved.status == "resolved"
    assert resolved.resolution is not None
    assert resolved.resolution.handback == "ai"
    assert resolved.first_response_at is not None
    thread = await queue.conversations.require_thread(claimed.thread_id)
    assert (thread.owner, thread.assigned_agent) == ("ai", None)
    back = queue.published(ThreadAssigned)[-1]
    assert (back.owner, back.previous_owner) == ("ai", "human")
    assert "handed the thread back to the AI" in back.reason


async def test_resolving_with_handback_none_leaves_the_thread_with_people(queue: Queue) -> None:
    claimed = await queue.claimed()
    await queue.holder.resolve(ALEX, claimed.ticket_id, "none")

    thread = await queue.conversations.require_thread(claimed.thread_id)
    assert (thread.owner, thread.assigned_agent) == ("human", None)
    assert "people keep the thread" in queue.published(ThreadAssigned)[-1].reason
    assert await queue.tickets.open_for_thread(claimed.thread_id) is None


async def test_only_the_holder_acts_while_the_lease_runs(queue: Queue) -> None:
    ticket = await queue.conversation()
    with pytest.raises(NotHolderError, match="claim it first"):
        await queue.holder.reply(ALEX, ticket.ticket_id, "hi", idempotency_key=None)
    await queue.claims.claim(ALEX, ticket.ticket_id)
    with pytest.raises(NotHolderError, match="claimed by Alex, not you"):
        await queue.holder.resolve(SAM, ticket.ticket_id, "ai")
    queue.clock.advance(minutes=11)
    with pytest.raises(LeaseExpiredError, match="claim it again") as refused:
        await queue.holder.reply(ALEX, ticket.ticket_id, "hi", idempotency_key=None)
    assert (refused.value.status, refused.value.code) == (409, "lease_expired")
    assert queue.published(MessageSent) == []


async def act(queue: Queue, action: str, ticket_id: str) -> object:
    if action == "answer":
        return await queue.holder.answer(ALEX, ticket_id, "42")
    if action == "approve":
        return await queue.holder.approve(ALEX, ticket_id, None)
    if action == "reply":
        return await queue.holder.reply(ALEX, ticket_id, "hi", idempotency_key=None)
    return await queue.holder.resolve(ALEX, ticket_id, "ai")


@pytest.mark.parametrize(
    ("kind", "action", "code"),
    [
        ("conversation", "answer", "wrong_kind"),
        ("conversation", "approve", "wrong_kind"),
        ("question", "reply", "wrong_kind"),
        ("question", "resolve", "wrong_kind"),
        ("approval", "answer", "wrong_kind"),
    ],
)
async def test_each_kind_of_ticket_has_its_actions(
    queue: Queue, kind: str, action: str, code: str
) -> None:
    ticket_id = (await queue.claimed(kind)).ticket_id
    with pytest.raises(WrongKindError) as refused:
        await act(queue, action, ticket_id)
    assert (refused.value.status, refused.value.code) == (409, code)


@pytest.mark.parametrize(
    ("text", "fragment"), [("   ", "text is empty"), ("x" * 101, "limit is 100")]
)
async def test_texts_must_have_content_within_the_limit(
    queue: Queue, text: str, fragment: str
) -> None:
    claimed = await queue.claimed()
    with pytest.raises(InvalidTextError, match=fragment) as refused:
        await queue.holder.reply(ALEX, claimed.ticket_id, text, idempotency_key=None)
    assert (refused.value.status, refused.value.code) == (422, "invalid_text")


async def test_a_resolved_ticket_takes_no_more_actions(queue: Queue) -> None:
    claimed = await queue.claimed()
    await queue.holder.resolve(ALEX, claimed.ticket_id, "none")
    with pytest.raises(WrongStateError, match="resolved") as refused:
        await queue.holder.reply(ALEX, claimed.ticket_id, "late", idempotency_key=None)
    assert refused.value.code == "wrong_state"
