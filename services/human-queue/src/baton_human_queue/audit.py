"""The action audit: one record per thing that happened to a tool call the AI made or
proposed: proposed, edited, approved, denied, expired, executed. Who decided and when, with
the arguments, so that anyone can later tell why a tool ran with what it ran with.

Every record's id derives from what it records (the ticket and what happened to it, or the
``action.executed`` event), so writing it again changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from baton_contracts import ActionExecuted, ActionOutcome, HumanAgent, derive_id

from .tickets import ActionTicket

ActionWhat = Literal["proposed", "edited", "approved", "denied", "expired", "executed"]

ORDER: dict[ActionWhat, int] = {
    "proposed": 0,
    "edited": 1,
    "approved": 2,
    "denied": 2,
    "expired": 2,
    "executed": 3,
}
"""How records of the same moment follow each other: an edit comes before its approval."""


class ActionRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    what: ActionWhat
    at: AwareDatetime
    by: HumanAgent | None = None
    """The person who decided; None for what the AI or the queue did."""
    thread_id: str
    ticket_id: str | None = None
    """The action ticket; None for a call that needed no approval."""
    request_id: uuid.UUID | None = None
    tool_call_id: str
    tool_name: str
    arguments: dict[str, Any] | None = None
    """Proposed, approved (the final ones), edited (the new ones) or executed with."""
    previous_arguments: dict[str, Any] | None = None
    """What an edit replaced."""
    reason: str | None = None
    """Why it was proposed for approval, denied, or expired."""
    outcome: ActionOutcome | None = None
    status_code: int | None = None
    error: str | None = None
    duration_ms: int | None = None
    idempotency_key: str | None = None
    resent: bool | None = None
    message_id: uuid.UUID | None = None
    """The user message the AI was answering."""

    def sort_key(self) -> tuple[datetime, int]:
        return self.at, ORDER[self.what]


def _of_ticket(ticket: ActionTicket, what: ActionWhat, at: datetime, **fields: Any) -> ActionRecord:
    return ActionRecord.model_validate(
        {
            "record_id": str(ticket.event_id(f"audit:{what}")),
            "what": what,
            "at": at,
            "thread_id": ticket.thread_id,
            "ticket_id": ticket.ticket_id,
            "request_id": ticket.request_id,
            "tool_call_id": ticket.tool_call_id,
            "tool_name": ticket.action.tool_name,
            "message_id": ticket.user_message_id,
            **fields,
        }
    )


def proposed(ticket: ActionTicket) -> ActionRecord:
    """The AI proposed the call; the ticket opened for a person to decide."""
    return _of_ticket(
        ticket,
        "proposed",
        ticket.created_at,
        arguments=ticket.action.arguments,
        reason=ticket.action.approval_reason or ticket.reason,
    )


def approved(
    ticket: ActionTicket, agent: HumanAgent, at: datetime, arguments: dict[str, Any], edited: bool
) -> list[ActionRecord]:
    """A person approved the call: with its edit first, when they changed the arguments."""
    records = []
    if edited:
        records.append(
            _of_ticket(
                ticket,
                "edited",
                at,
                by=agent,
                arguments=arguments,
                previous_arguments=ticket.action.arguments,
            )
        )
    records.append(_of_ticket(ticket, "approved", at, by=agent, arguments=arguments))
    return records


def denied(ticket: ActionTicket, agent: HumanAgent, at: datetime, reason: str) -> ActionRecord:
    return _of_ticket(ticket, "denied", at, by=agent, reason=reason)


def expired(ticket: ActionTicket, at: datetime, reason: str) -> ActionRecord:
    """Nobody decided in time: the AI takes the call as denied (fallback ``ai``)."""
    return _of_ticket(ticket, "expired", at, reason=reason)


def executed(event: ActionExecuted) -> ActionRecord:
    """The AI responder ran the tool: a call a person approved, or one needing nobody."""
    return ActionRecord(
        record_id=str(derive_id(event.event_id, "audit:executed")),
        what="executed",
        at=event.occurred_at,
        thread_id=event.thread_id,
        ticket_id=event.ticket_id,
        request_id=event.request_id,
        tool_call_id=event.tool_call_id,
        tool_name=event.tool_name,
        arguments=event.arguments,
        outcome=event.outcome,
        status_code=event.status_code,
        error=event.error,
        duration_ms=event.duration_ms,
        idempotency_key=event.idempotency_key,
        resent=event.resent,
        message_id=event.message_id,
    )
