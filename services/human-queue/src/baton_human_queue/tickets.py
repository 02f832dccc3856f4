"""Tickets, typed by kind. A ticket's fields are also its document in MongoDB: one list.

A field that is None is left out of the document, and a document without it reads as None;
so ``first_claimed_at`` and ``first_response_at`` can be set once with ``$min``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeAlias

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, TypeAdapter

from baton_contracts import (
    Fallback,
    HumanAgent,
    RouteStrategy,
    TicketKind,
    TicketStatus,
    TicketSummary,
    ToolAction,
    derive_id,
)
from baton_conversations import Because
from baton_runtime import Document

Id = Annotated[uuid.UUID, PlainSerializer(str, return_type=str)]
"""A UUID, stored as its text."""

Action = Literal["reply", "answer", "approve", "reject", "resolve", "approve_action", "deny_action"]
Handback = Literal["ai", "none"]

OPEN_STATUSES: tuple[TicketStatus, ...] = ("pending", "assigned")


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Holder(_Part):
    """The agent holding a ticket's claim, acting for one of its departments."""

    agent_id: str
    name: str
    department: str | None = None

    def as_agent(self) -> HumanAgent:
        return HumanAgent(agent_id=self.agent_id, name=self.name, department=self.department)


class Resolution(_Part):
    action: Action
    agent_id: str
    agent_name: str
    at: AwareDatetime
    handback: Handback | None = None


class TicketBase(_Part):
    """What every ticket has: where it comes from, its place in the queue, its claim."""

    model_config = ConfigDict(populate_by_name=True)

    ticket_id: str = Field(alias="_id")
    kind: TicketKind
    status: TicketStatus = "pending"
    priority: int
    department: str | None = None
    thread_id: str
    user_tier: str | None = None
    user_message_id: Id
    message_ids: tuple[Id, ...] = ()
    """The user messages the ticket is about, the first one included."""
    reason: str
    request_id: Id | None = None
    """The AI's request this ticket answers, if the AI asked."""
    source_event_id: Id
    correlation_id: Id
    trace: dict[str, str] | None = None
    """The trace context (W3C ``traceparent``) of the handler that opened the ticket, when
    tracing is on: the holder's actions link to it."""
    holder: Holder | None = None
    claim_id: str | None = None
    claimed_at: AwareDatetime | None = None
    lease_expires_at: AwareDatetime | None = None
    first_claimed_at: AwareDatetime | None = None
    first_response_at: AwareDatetime | None = None
    sla_due_at: AwareDatetime
    sla_breached: bool = False
    sla_breached_at: AwareDatetime | None = None
    next_response_due_at: AwareDatetime | None = None
    """While the user waits on people who answered before: when their next response is
    due (business time). A reply clears it."""
    next_response_breached_at: AwareDatetime | None = None
    """When that wait was flagged as past due (once a wait)."""
    resolution_due_at: AwareDatetime | None = None
    """When the ticket should be resolved by (business time); None: no resolution SLA."""
    resolution_breached_at: AwareDatetime | None = None
    priority_raised: int = 0
    """How much SLA breaches raised the priority: it stays raised through a transfer."""
    locale: str | None = None
    """The thread's language (its ``metadata.locale``), for the notices to the user."""
    resolution: Resolution | None = None
    expires_at: AwareDatetime | None = None
    """When the ticket closes unanswered (a question, or an action nobody decided); None:
    never."""
    fallback: Fallback | None = None
    """What the AI does when the ticket expires: ``ai`` goes on without it, ``human``
    hands the conversation to people."""
    expired_at: AwareDatetime | None = None
    expiry_reason: str | None = None
    summary: TicketSummary | None = None
    """The AI's summary of the conversation for the agent, written after the ticket opened."""
    summarized_at: AwareDatetime | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    resolved_at: AwareDatetime | None = None

    @property
    def latest_message_id(self) -> uuid.UUID:
        return self.message_ids[-1] if self.message_ids else self.user_message_id

    def event_id(self, purpose: str) -> uuid.UUID:
        """Events about this ticket get ids from the ticket and what happened, so doing the
        same thing again repeats the event instead of sending another."""
        return derive_id(uuid.UUID(self.ticket_id), purpose)

    def because(self, purpose: str) -> Because:
        """A change of the thread's owner that ``purpose`` makes for this ticket."""
        return Because(
            event_id=self.event_id(f"{purpose}:thread.assigned"),
            correlation_id=self.correlation_id,
            causation_id=self.source_event_id,
        )


class AiNotes(_Part):
    """What the AI hands over with a conversation: its question, context, suggested reply."""

    question: str | None = None
    context: str | None = None
    suggestion: str | None = None
    confidence: float | None = None
    request_id: Id | None = None


class ThreadTicket(TicketBase, AiNotes):
    """A whole conversation in people's hands: they reply in it, then resolve it."""

    route_strategy: RouteStrategy | None = None
    replies: tuple[Id, ...] = ()
    """The ids of the holder's replies, so a retried reply is recognised."""


class ConversationTicket(ThreadTicket):
    """The router gave the thread to people."""

    kind: Literal["conversation"] = "conversation"


class EscalationTicket(ThreadTicket):
    """The AI handed the thread over, usually with its suggested reply."""

    kind: Literal["escalation"] = "escalation"


class QuestionTicket(TicketBase):
    """The AI asks a person for a fact (``ask_human``) and continues with the answer."""

    kind: Literal["question"] = "question"
    question: str | None = None
    context: str | None = None
    tool_call_id: str | None = None


class ApprovalTicket(TicketBase):
    """The AI wrote a draft it may not send without a person."""

    kind: Literal["approval"] = "approval"
    draft_message_id: Id
    draft_text: str | None = None
    confidence: float | None = None


class ActionTicket(TicketBase):
    """The AI proposes a call of a configured tool that may not run without a person: they
    approve it (as proposed or with edited arguments) or deny it."""

    kind: Literal["action"] = "action"
    tool_call_id: str
    action: ToolAction


Ticket: TypeAlias = Annotated[
    ConversationTicket | EscalationTicket | QuestionTicket | ApprovalTicket | ActionTicket,
    Field(discriminator="kind"),
]
_TICKET: TypeAdapter[Ticket] = TypeAdapter(Ticket)


def read_ticket(doc: Mapping[str, Any]) -> Ticket:
    """The ticket a document holds; a ValueError (pydantic's) when it holds none."""
    return _TICKET.validate_python(doc)


def ticket_document(ticket: TicketBase) -> Document:
    return ticket.model_dump(by_alias=True, exclude_none=True)
