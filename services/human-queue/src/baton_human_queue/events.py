"""The events a ticket change announces. Their ids derive from the ticket and the change
(:meth:`~baton_human_queue.tickets.TicketBase.event_id`), so doing it again repeats them."""

from __future__ import annotations

import uuid
from typing import Any

from baton_contracts import (
    ActionDecided,
    DraftApproved,
    DraftRejected,
    HumanAgent,
    HumanResponded,
    MessageSent,
    SlaKind,
    TicketExpired,
    TicketLeaseExpired,
    TicketOpened,
    TicketSlaBreached,
    derive_id,
)
from baton_conversations import Thread

from .domain import clock_due
from .tickets import (
    ActionTicket,
    ApprovalTicket,
    QuestionTicket,
    ThreadTicket,
    Ticket,
    TicketBase,
)


def _envelope(ticket: TicketBase, purpose: str) -> dict[str, Any]:
    return {
        "event_id": ticket.event_id(purpose),
        "thread_id": ticket.thread_id,
        "correlation_id": ticket.correlation_id,
        "causation_id": ticket.source_event_id,
    }


def reply_events(
    ticket: ThreadTicket,
    *,
    message_id: uuid.UUID,
    text: str,
    agent: HumanAgent,
    thread: Thread,
    response_time_ms: int,
    in_reply_to: uuid.UUID,
) -> tuple[HumanResponded, MessageSent]:
    responded = HumanResponded(
        **_envelope(ticket, f"reply:{message_id}:human.responded"),
        kind="reply",
        ticket_id=ticket.ticket_id,
        message_id=message_id,
        text=text,
        agent=agent,
        response_time_ms=response_time_ms,
    )
    sent = MessageSent(
        **_envelope(ticket, f"reply:{message_id}:message.sent"),
        message_id=message_id,
        in_reply_to=in_reply_to,
        text=text,
        user_id=thread.user_id,
        channel=thread.channel,
        agent_name=agent.name,
        provider="human",
    )
    return responded, sent


def answer_event(
    ticket: QuestionTicket, *, text: str, agent: HumanAgent, response_time_ms: int
) -> HumanResponded:
    purpose = "answer:human.responded"
    event_id = ticket.event_id(purpose)
    return HumanResponded(
        **_envelope(ticket, purpose),
        kind="answer",
        ticket_id=ticket.ticket_id,
        # The AI responder stores the answer as the tool call's result under this id.
        message_id=derive_id(event_id, "tool-result"),
        text=text,
        agent=agent,
        request_id=ticket.request_id,
        tool_call_id=ticket.tool_call_id,
        response_time_ms=response_time_ms,
    )


def approved_event(
    ticket: ApprovalTicket, *, text: str, edited: bool, agent: HumanAgent
) -> DraftApproved:
    return DraftApproved(
        **_envelope(ticket, "approve:draft.approved"),
        draft_message_id=ticket.draft_message_id,
        ticket_id=ticket.ticket_id,
        text=text,
        edited=edited,
        agent=agent,
    )


def rejected_event(ticket: ApprovalTicket, *, review: str, agent: HumanAgent) -> DraftRejected:
    return DraftRejected(
        **_envelope(ticket, "reject:draft.rejected"),
        draft_message_id=ticket.draft_message_id,
        ticket_id=ticket.ticket_id,
        review=review,
        agent=agent,
    )


def action_approved_event(
    ticket: ActionTicket, *, arguments: dict[str, Any], edited: bool, agent: HumanAgent
) -> ActionDecided:
    """The call may run, with ``arguments`` (the person's edit, if ``edited``)."""
    return ActionDecided(
        **_envelope(ticket, "approve_action:action.decided"),
        ticket_id=ticket.ticket_id,
        request_id=_request_id(ticket),
        tool_call_id=ticket.tool_call_id,
        tool_name=ticket.action.tool_name,
        decision="approved",
        arguments=arguments,
        edited=edited,
        agent=agent,
    )


def action_denied_event(ticket: ActionTicket, *, reason: str, agent: HumanAgent) -> ActionDecided:
    return ActionDecided(
        **_envelope(ticket, "deny_action:action.decided"),
        ticket_id=ticket.ticket_id,
        request_id=_request_id(ticket),
        tool_call_id=ticket.tool_call_id,
        tool_name=ticket.action.tool_name,
        decision="denied",
        reason=reason,
        agent=agent,
    )


def _request_id(ticket: ActionTicket) -> uuid.UUID:
    # Intake opens an action ticket only from the AI's request, which has its id.
    assert ticket.request_id is not None
    return ticket.request_id


def lease_expired_event(ticket: Ticket, *, claim_id: str) -> TicketLeaseExpired:
    assert ticket.holder is not None
    assert ticket.claimed_at is not None
    assert ticket.lease_expires_at is not None
    return TicketLeaseExpired(
        **_envelope(ticket, f"lease_expired:{claim_id}"),
        ticket_id=ticket.ticket_id,
        kind=ticket.kind,
        agent=ticket.holder.as_agent(),
        claimed_at=ticket.claimed_at,
        lease_expired_at=ticket.lease_expires_at,
        department=ticket.department,
    )


def sla_breach_purpose(ticket: Ticket, sla: SlaKind) -> str:
    """What names a breach: once per ticket for the first response and the resolution, once
    per wait (its due time) for a next response."""
    if sla == "first_response":
        return "sla_breached"
    if sla == "next_response":
        due = ticket.next_response_due_at
        return f"sla_breached:next_response:{due.isoformat() if due else ''}"
    return "sla_breached:resolution"


def sla_breached_event(
    ticket: Ticket, *, sla: SlaKind = "first_response", raised_by: int = 0
) -> TicketSlaBreached:
    """``ticket``'s clock ``sla`` ran out; the breach raises its priority by ``raised_by``."""
    due = clock_due(ticket, sla)
    assert due is not None
    return TicketSlaBreached(
        **_envelope(ticket, sla_breach_purpose(ticket, sla)),
        ticket_id=ticket.ticket_id,
        kind=ticket.kind,
        status=ticket.status,
        sla=sla,
        priority=ticket.priority + raised_by,
        priority_raised_by=raised_by,
        department=ticket.department,
        created_at=ticket.created_at,
        sla_due_at=due,
        agent=ticket.holder.as_agent() if ticket.holder else None,
    )


def opened_event(ticket: Ticket) -> TicketOpened:
    return TicketOpened(
        **_envelope(ticket, "opened"),
        ticket_id=ticket.ticket_id,
        kind=ticket.kind,
        message_id=ticket.user_message_id,
        priority=ticket.priority,
        department=ticket.department,
        reason=ticket.reason[:1000],
    )


def expired_event(ticket: Ticket, *, reason: str) -> TicketExpired:
    """The AI's request went unanswered: it ends its turn by the ticket's fallback."""
    return TicketExpired(
        **_envelope(ticket, "expired"),
        ticket_id=ticket.ticket_id,
        kind=ticket.kind,
        request_id=ticket.request_id,
        tool_call_id=(
            ticket.tool_call_id if isinstance(ticket, QuestionTicket | ActionTicket) else None
        ),
        message_id=ticket.user_message_id,
        reason=reason[:1000],
        fallback=ticket.fallback or "ai",
    )
