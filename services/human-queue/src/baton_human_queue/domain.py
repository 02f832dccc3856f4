"""The queue's decisions, free of I/O: priorities, SLAs, leases, who may do what.

Every function takes the current time as an argument, so the rules are tested without
clocks or databases.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from baton_contracts import (
    DraftApproved,
    DraftRejected,
    HumanAgent,
    HumanResponded,
    MessageSent,
    Owner,
    ThreadAssigned,
    TicketKind,
    TicketLeaseExpired,
    TicketSlaBreached,
    TicketStatus,
    derive_id,
)
from baton_runtime import RefusedError

Action = Literal["reply", "answer", "approve", "reject", "resolve"]
Handback = Literal["ai", "none"]

OPEN_STATUSES: tuple[TicketStatus, ...] = ("pending", "assigned")
THREAD_KINDS: frozenset[TicketKind] = frozenset({"conversation", "escalation"})
"""Kinds that hand a whole conversation to a person (as opposed to a single request)."""

ACTION_KINDS: Mapping[Action, frozenset[TicketKind]] = {
    "reply": THREAD_KINDS,
    "resolve": THREAD_KINDS,
    "answer": frozenset({"question"}),
    "approve": frozenset({"approval"}),
    "reject": frozenset({"approval"}),
}

DEFAULT_KIND_PRIORITY: Mapping[TicketKind, int] = {
    "conversation": 0,
    "escalation": 10,
    "question": 20,
    "approval": 30,
}
DEFAULT_SLA_S: Mapping[int, float] = {0: 3600.0, 20: 900.0, 50: 300.0}


class QueueError(RefusedError):
    """A request the queue refuses. Subclasses set the HTTP ``status`` and ``code``."""


class UnknownTicketError(QueueError):
    status = 404
    code = "unknown_ticket"


class WrongDepartmentError(QueueError):
    status = 403
    code = "wrong_department"


class NotHolderError(QueueError):
    status = 403
    code = "not_holder"


class AlreadyClaimedError(QueueError):
    status = 409
    code = "already_claimed"


class WrongStateError(QueueError):
    status = 409
    code = "wrong_state"


class WrongKindError(QueueError):
    status = 409
    code = "wrong_kind"


class LeaseExpiredError(QueueError):
    status = 409
    code = "lease_expired"


class InvalidTextError(QueueError):
    code = "invalid_text"


def _kind_priorities() -> dict[TicketKind, int]:
    return dict(DEFAULT_KIND_PRIORITY)


class PriorityRules(BaseModel):
    """A ticket's priority is the sum of its kind's, its user tier's and its department's
    values (higher is served first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by_kind: dict[TicketKind, int] = Field(default_factory=_kind_priorities)
    by_tier: dict[str, int] = Field(default_factory=lambda: {"vip": 50})
    by_department: dict[str, int] = Field(default_factory=dict)

    def priority(self, kind: TicketKind, *, tier: str | None, department: str | None) -> int:
        tiers = {k.casefold(): v for k, v in self.by_tier.items()}
        departments = {k.casefold(): v for k, v in self.by_department.items()}
        return (
            self.by_kind.get(kind, 0)
            + (tiers.get(tier.casefold(), 0) if tier else 0)
            + (departments.get(department.casefold(), 0) if department else 0)
        )


def sla_seconds(priority: int, table: Mapping[int, float]) -> float:
    """The SLA of the entry with the highest key not above ``priority``; below every key,
    the lowest key's."""
    eligible = [key for key in table if key <= priority]
    return table[max(eligible)] if eligible else table[min(table)]


@dataclass(frozen=True)
class Agent:
    agent_id: str
    name: str
    departments: tuple[str, ...]

    def serves(self, department: str | None) -> bool:
        """Tickets without a department are everyone's."""
        return department is None or department in self.departments

    def acting_for(self, department: str | None) -> HumanAgent:
        """The agent as named in events, acting for ``department`` (else its first one)."""
        return HumanAgent(
            agent_id=self.agent_id,
            name=self.name,
            department=department or (self.departments[0] if self.departments else None),
        )


@dataclass(frozen=True)
class Holder:
    agent_id: str
    name: str
    department: str | None

    def as_agent(self) -> HumanAgent:
        return HumanAgent(agent_id=self.agent_id, name=self.name, department=self.department)

    def to_document(self) -> dict[str, Any]:
        return {"agent_id": self.agent_id, "name": self.name, "department": self.department}


@dataclass(frozen=True)
class Resolution:
    action: str
    agent_id: str
    agent_name: str
    at: datetime
    handback: Handback | None = None


def _uuid(value: Any) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    kind: TicketKind
    status: TicketStatus
    priority: int
    department: str | None
    thread_id: str
    user_tier: str | None
    user_message_id: uuid.UUID
    message_ids: tuple[uuid.UUID, ...]
    reason: str | None
    question: str | None
    context: str | None
    suggestion: str | None
    confidence: float | None
    draft_message_id: uuid.UUID | None
    draft_text: str | None
    tool_call_id: str | None
    request_id: uuid.UUID | None
    source_event_id: uuid.UUID
    correlation_id: uuid.UUID
    holder: Holder | None
    claim_id: str | None
    claimed_at: datetime | None
    lease_expires_at: datetime | None
    first_claimed_at: datetime | None
    first_response_at: datetime | None
    sla_due_at: datetime
    sla_breached: bool
    replies: tuple[uuid.UUID, ...]
    resolution: Resolution | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None

    @property
    def ticket_uuid(self) -> uuid.UUID:
        return uuid.UUID(self.ticket_id)

    @property
    def latest_message_id(self) -> uuid.UUID:
        return self.message_ids[-1] if self.message_ids else self.user_message_id

    def event_id(self, purpose: str) -> uuid.UUID:
        """Events about this ticket get ids from the ticket and what happened, so doing the
        same thing again repeats the event instead of sending another."""
        return derive_id(self.ticket_uuid, purpose)

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Ticket:
        holder = doc.get("holder")
        resolution = doc.get("resolution")
        return cls(
            ticket_id=doc["_id"],
            kind=doc["kind"],
            status=doc["status"],
            priority=doc["priority"],
            department=doc.get("department"),
            thread_id=doc["thread_id"],
            user_tier=doc.get("user_tier"),
            user_message_id=uuid.UUID(doc["user_message_id"]),
            message_ids=tuple(uuid.UUID(m) for m in doc.get("message_ids", ())),
            reason=doc.get("reason"),
            question=doc.get("question"),
            context=doc.get("context"),
            suggestion=doc.get("suggestion"),
            confidence=doc.get("confidence"),
            draft_message_id=_uuid(doc.get("draft_message_id")),
            draft_text=doc.get("draft_text"),
            tool_call_id=doc.get("tool_call_id"),
            request_id=_uuid(doc.get("request_id")),
            source_event_id=uuid.UUID(doc["source_event_id"]),
            correlation_id=uuid.UUID(doc["correlation_id"]),
            holder=Holder(**holder) if holder else None,
            claim_id=doc.get("claim_id"),
            claimed_at=doc.get("claimed_at"),
            lease_expires_at=doc.get("lease_expires_at"),
            first_claimed_at=doc.get("first_claimed_at"),
            first_response_at=doc.get("first_response_at"),
            sla_due_at=doc["sla_due_at"],
            sla_breached=bool(doc.get("sla_breached")),
            replies=tuple(uuid.UUID(m) for m in doc.get("replies", ())),
            resolution=Resolution(**resolution) if resolution else None,
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
            resolved_at=doc.get("resolved_at"),
        )


# ---------------------------------------------------------------- who may do what


def check_visible(agent: Agent, ticket: Ticket) -> None:
    if not agent.serves(ticket.department):
        raise WrongDepartmentError(
            f"ticket {ticket.ticket_id} belongs to department {ticket.department!r}, "
            f"which {agent.name} does not serve"
        )


def check_kind(ticket: Ticket, action: Action) -> None:
    allowed = ACTION_KINDS[action]
    if ticket.kind not in allowed:
        kinds = " or ".join(sorted(allowed))
        raise WrongKindError(
            f"cannot {action} a {ticket.kind} ticket; {action} applies to {kinds} tickets"
        )


def lease_expired(ticket: Ticket, now: datetime) -> bool:
    return ticket.lease_expires_at is not None and ticket.lease_expires_at <= now


ClaimVerdict = Literal["claim", "renew"]


def claim_verdict(agent: Agent, ticket: Ticket, now: datetime) -> ClaimVerdict:
    """``claim`` a free ticket (pending, or its holder's lease ran out), ``renew`` one the
    agent holds already; anything else is refused."""
    if ticket.status == "resolved":
        raise WrongStateError(f"ticket {ticket.ticket_id} is resolved")
    if ticket.status == "assigned" and ticket.holder is not None and not lease_expired(ticket, now):
        if ticket.holder.agent_id == agent.agent_id:
            return "renew"
        raise AlreadyClaimedError(f"ticket {ticket.ticket_id} is claimed by {ticket.holder.name}")
    return "claim"


def check_holder(agent: Agent, ticket: Ticket, now: datetime) -> Holder:
    """The agent's hold on ``ticket``, which only the holder may act on."""
    if ticket.status == "resolved":
        raise WrongStateError(f"ticket {ticket.ticket_id} is resolved")
    holder = ticket.holder
    if ticket.status != "assigned" or holder is None:
        raise NotHolderError(f"ticket {ticket.ticket_id} is not claimed; claim it first")
    if holder.agent_id != agent.agent_id:
        raise NotHolderError(f"ticket {ticket.ticket_id} is claimed by {holder.name}, not you")
    if lease_expired(ticket, now):
        raise LeaseExpiredError(f"your claim on ticket {ticket.ticket_id} expired; claim it again")
    return holder


def repeated_resolution(agent: Agent, ticket: Ticket, action: Action) -> bool:
    """True when ``agent`` already did ``action`` on this ticket: a retried request."""
    resolution = ticket.resolution
    return (
        ticket.status == "resolved"
        and resolution is not None
        and resolution.action == action
        and resolution.agent_id == agent.agent_id
    )


def check_text(text: str, *, max_length: int, what: str = "text") -> str:
    if not text.strip():
        raise InvalidTextError(f"{what} is empty")
    if len(text) > max_length:
        raise InvalidTextError(f"{what} has {len(text)} characters; the limit is {max_length}")
    return text


def approved_text(draft_text: str | None, text: str | None) -> tuple[str, bool]:
    """The text to send for an approval and whether the person edited the draft."""
    original = draft_text or ""
    if text is None or text == original:
        if not original:
            raise InvalidTextError("the draft is empty; approve it with a text")
        return original, False
    return text, True


def sla_breach_due(ticket: Ticket, now: datetime) -> bool:
    """The SLA is the time a customer waits for a person: it is met by the first response
    (a reply, answer, review or resolution) and breached once per ticket."""
    return (
        ticket.status != "resolved"
        and not ticket.sla_breached
        and ticket.first_response_at is None
        and ticket.sla_due_at <= now
    )


def lease_until(now: datetime, lease_s: float) -> datetime:
    return now + timedelta(seconds=lease_s)


def milliseconds(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds() * 1000))


# ---------------------------------------------------------------- events


def _envelope(ticket: Ticket, purpose: str) -> dict[str, Any]:
    return {
        "event_id": ticket.event_id(purpose),
        "thread_id": ticket.thread_id,
        "correlation_id": ticket.correlation_id,
        "causation_id": ticket.source_event_id,
    }


def thread_assigned(
    ticket: Ticket,
    purpose: str,
    *,
    owner: Owner,
    previous_owner: Owner | None,
    agent_id: str | None,
    reason: str,
) -> ThreadAssigned:
    return ThreadAssigned(
        **_envelope(ticket, f"{purpose}:thread.assigned"),
        owner=owner,
        previous_owner=previous_owner,
        agent_id=agent_id,
        reason=reason[:1000],
    )


def reply_events(
    ticket: Ticket,
    *,
    message_id: uuid.UUID,
    text: str,
    agent: HumanAgent,
    user_id: str | None,
    channel: str | None,
    response_time_ms: int,
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
        in_reply_to=ticket.latest_message_id,
        text=text,
        user_id=user_id,
        channel=channel,
        agent_name=agent.name,
        provider="human",
    )
    return responded, sent


def answer_event(
    ticket: Ticket, *, text: str, agent: HumanAgent, response_time_ms: int
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


def approved_event(ticket: Ticket, *, text: str, edited: bool, agent: HumanAgent) -> DraftApproved:
    assert ticket.draft_message_id is not None
    return DraftApproved(
        **_envelope(ticket, "approve:draft.approved"),
        draft_message_id=ticket.draft_message_id,
        ticket_id=ticket.ticket_id,
        text=text,
        edited=edited,
        agent=agent,
    )


def rejected_event(ticket: Ticket, *, review: str, agent: HumanAgent) -> DraftRejected:
    assert ticket.draft_message_id is not None
    return DraftRejected(
        **_envelope(ticket, "reject:draft.rejected"),
        draft_message_id=ticket.draft_message_id,
        ticket_id=ticket.ticket_id,
        review=review,
        agent=agent,
    )


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


def sla_breached_event(ticket: Ticket) -> TicketSlaBreached:
    return TicketSlaBreached(
        **_envelope(ticket, "sla_breached"),
        ticket_id=ticket.ticket_id,
        kind=ticket.kind,
        status=ticket.status,
        priority=ticket.priority,
        department=ticket.department,
        created_at=ticket.created_at,
        sla_due_at=ticket.sla_due_at,
        agent=ticket.holder.as_agent() if ticket.holder else None,
    )
