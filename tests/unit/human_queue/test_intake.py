"""Opening tickets: one per open need, from routes to people and the AI's requests."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from baton_conversations import UnknownThreadError
from baton_human_queue.domain import InvalidRequestError
from baton_human_queue.tickets import (
    ApprovalTicket,
    ConversationTicket,
    EscalationTicket,
    QuestionTicket,
)

from .conftest import ALEX, NOW, Queue, requested, routed


async def test_a_route_to_people_opens_a_pending_conversation_ticket(queue: Queue) -> None:
    thread = await queue.thread("billing")
    first = await queue.user_says(thread)
    await queue.intake.open_conversation(routed(thread, first))

    ticket = await queue.only_ticket(thread)
    assert isinstance(ticket, ConversationTicket)
    assert (ticket.status, ticket.department, ticket.priority) == ("pending", "billing", 0)
    assert (ticket.user_message_id, ticket.message_ids) == (first, (first,))
    assert (ticket.reason, ticket.route_strategy) == ("the user asked for a person", "rule")
    assert ticket.sla_due_at == NOW + timedelta(hours=1)
    assert ticket.holder is None


async def test_the_threads_next_messages_join_its_open_ticket_once(queue: Queue) -> None:
    thread = await queue.thread()
    first_route = routed(thread, await queue.user_says(thread))
    await queue.intake.open_conversation(first_route)
    second = await queue.user_says(thread)
    await queue.intake.open_conversation(routed(thread, second))

    # Kafka delivers both routes again: no second ticket, nothing added twice.
    await queue.intake.open_conversation(first_route)
    await queue.intake.open_conversation(routed(thread, second))

    ticket = await queue.only_ticket(thread)
    assert ticket.message_ids == (first_route.message_id, second)
    assert ticket.latest_message_id == second


async def test_an_escalation_of_a_queued_thread_adds_the_ais_notes(queue: Queue) -> None:
    thread = await queue.thread()
    await queue.intake.open_conversation(routed(thread, await queue.user_says(thread)))
    later = await queue.user_says(thread)
    escalation = requested(
        thread, "escalation", later, suggestion="Offer a voucher", confidence=0.4
    )
    await queue.intake.open_request(escalation)

    ticket = await queue.only_ticket(thread)
    assert isinstance(ticket, ConversationTicket)
    assert (ticket.suggestion, ticket.confidence) == ("Offer a voucher", 0.4)
    assert ticket.request_id == escalation.request_id
    assert ticket.reason == "the user asked for a person"  # the ticket's own reason stays
    assert ticket.message_ids[-1] == later


async def test_each_request_opens_a_ticket_of_its_kind(queue: Queue) -> None:
    question = await queue.request("question", context="order 7")
    assert isinstance(question, QuestionTicket)
    assert (question.question, question.context, question.tool_call_id) == (
        "Did order 7 ship?",
        "order 7",
        "call_1",
    )
    assert (question.priority, question.sla_due_at) == (20, NOW + timedelta(minutes=15))

    approval = await queue.request("approval")
    assert isinstance(approval, ApprovalTicket)
    assert approval.draft_text == "Your refund is on its way."
    assert approval.priority == 30

    escalation = await queue.request("escalation", suggestion="Restart it", confidence=0.3)
    assert isinstance(escalation, EscalationTicket)
    assert (escalation.suggestion, escalation.confidence, escalation.priority) == (
        "Restart it",
        0.3,
        10,
    )


async def test_a_vip_is_served_first_and_sooner(queue: Queue) -> None:
    thread = await queue.thread(tier="vip")
    await queue.intake.open_conversation(routed(thread, await queue.user_says(thread)))
    ticket = await queue.only_ticket(thread)
    assert (ticket.user_tier, ticket.priority) == ("vip", 50)
    assert ticket.sla_due_at == NOW + timedelta(minutes=5)


async def test_a_new_need_after_a_resolved_conversation_opens_a_new_ticket(queue: Queue) -> None:
    ticket = await queue.claimed()
    await queue.holder.resolve(ALEX, ticket.ticket_id, "none")
    thread = await queue.conversations.require_thread(ticket.thread_id)

    await queue.intake.open_conversation(routed(thread, await queue.user_says(thread)))

    found = await queue.reading.search(
        ALEX, statuses=("pending", "resolved"), thread_id=thread.thread_id
    )
    assert sorted(t.status for t in found) == ["pending", "resolved"]


async def test_a_request_for_an_unknown_thread_is_refused(queue: Queue) -> None:
    thread = await queue.thread()
    event = requested(thread, "question", uuid.uuid4(), thread_id="no-such-thread")
    with pytest.raises(UnknownThreadError) as refused:
        await queue.intake.open_request(event)
    assert refused.value.code == "unknown_thread"


async def test_an_approval_without_its_draft_is_refused(queue: Queue) -> None:
    thread = await queue.thread()
    event = requested(thread, "approval", await queue.user_says(thread), draft_message_id=None)
    with pytest.raises(InvalidRequestError) as refused:
        await queue.intake.open_request(event)
    assert refused.value.code == "invalid_request"
