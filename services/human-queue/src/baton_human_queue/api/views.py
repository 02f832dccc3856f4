"""What the API answers with: tickets, threads and their messages, as agents see them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, Field

from baton_contracts import Fallback, Mood, Owner, TicketKind, TicketStatus
from baton_conversations import Message, Ownership, Thread

from ..audit import ActionRecord
from ..tickets import Ticket
from .team_views import NoteView


class AgentView(BaseModel):
    agent_id: str
    name: str
    department: str | None


class ResolutionView(BaseModel):
    action: str
    agent_id: str
    agent_name: str
    at: datetime
    handback: str | None = None


AI_WORDS = (
    "Written by the AI from the customer's words: not an instruction from Baton or from the "
    "team. Check it against the thread before acting on it."
)


class SummaryView(BaseModel):
    """The AI's short account of the conversation, for whoever picks the ticket up."""

    written_by: Literal["ai"] = Field(default="ai", description=AI_WORDS)
    notice: str = Field(default=AI_WORDS, description="What agents are shown with it.")
    issue: str = Field(description="The customer's issue.")
    tried: str = Field(description="What was tried or answered so far; empty when nothing.")
    mood: Mood = Field(description="The customer's mood, as the conversation shows it.")
    written_at: datetime | None


class ActionView(BaseModel):
    """The tool call an action ticket asks a person to approve."""

    tool_name: str
    description: str = Field(description="What the tool does, as the AI reads it.")
    parameters: dict[str, Any] = Field(
        description="The tool's JSON Schema (Draft 2020-12): edited arguments must match it."
    )
    arguments: dict[str, Any] = Field(description="The arguments the AI proposes.")
    approval_reason: str = Field(
        description="Why the call needs approval: `always`, or the condition its arguments met."
    )


class TicketView(BaseModel):
    """A ticket; the fields of other kinds than its own are null."""

    ticket_id: str
    kind: TicketKind
    status: TicketStatus
    priority: int
    department: str | None
    thread_id: str
    user_tier: str | None
    user_message_id: uuid.UUID
    message_ids: list[uuid.UUID]
    reason: str | None
    question: str | None = None
    context: str | None = None
    suggestion: str | None = None
    confidence: float | None = None
    draft_message_id: uuid.UUID | None = None
    draft_text: str | None = None
    tool_call_id: str | None = None
    action: ActionView | None = Field(
        default=None, description="The proposed tool call (action tickets)."
    )
    request_id: uuid.UUID | None
    assigned_agent: AgentView | None
    claimed_at: datetime | None
    lease_expires_at: datetime | None
    sla_due_at: datetime
    sla_breached: bool
    next_response_due_at: datetime | None = Field(
        default=None,
        description="While the user waits on people again (they answered before): when the "
        "next response is due, in business time.",
    )
    resolution_due_at: datetime | None = Field(
        default=None, description="When the ticket should be resolved by; null: no such SLA."
    )
    priority_raised: int = Field(
        default=0, description="How much SLA breaches raised the priority."
    )
    first_response_at: datetime | None
    resolution: ResolutionView | None
    summary: SummaryView | None = Field(
        default=None,
        description="The AI's summary of the conversation; null until it is written (it "
        "comes a few seconds after the ticket opens, or never when the model fails).",
    )
    expires_at: datetime | None = Field(
        default=None,
        description="When the ticket closes unanswered (a question, an action); null: never.",
    )
    fallback: Fallback | None = Field(
        default=None,
        description="What the AI does when it expires: `ai` answers without the answer, "
        "`human` hands the conversation to people.",
    )
    expired_at: datetime | None = Field(
        default=None, description="When it was closed unanswered; then `status` is resolved."
    )
    expiry_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, ticket: Ticket) -> Self:
        fields = ticket.model_dump()
        summary = (
            SummaryView(**ticket.summary.model_dump(), written_at=ticket.summarized_at)
            if ticket.summary is not None
            else None
        )
        return cls.model_validate(
            {**fields, "assigned_agent": fields["holder"], "summary": summary}
        )


class TicketList(BaseModel):
    tickets: list[TicketView]


class AiView(BaseModel):
    """What the AI handed over: its question, its suggested reply, or its draft."""

    written_by: Literal["ai"] = Field(default="ai", description=AI_WORDS)
    notice: str = Field(default=AI_WORDS, description="What agents are shown with it.")
    reason: str | None
    question: str | None = None
    context: str | None = None
    suggestion: str | None = None
    confidence: float | None = None
    draft_message_id: uuid.UUID | None = None
    draft_text: str | None = None

    @classmethod
    def of(cls, ticket: Ticket) -> Self:
        return cls.model_validate(ticket.model_dump())


class MessageView(BaseModel):
    message_id: uuid.UUID
    role: str
    text: str
    content: str | list[dict[str, Any]] = Field(
        description="The text, or for tool traffic the tool-call / tool-result parts."
    )
    agent_name: str | None
    provider: str | None
    status: str | None = Field(description="For drafts: pending_approval, approved, rejected.")
    visible_to_user: bool
    in_reply_to: uuid.UUID | None
    human: dict[str, Any] | None = Field(
        description="For a person's message: agent id, name, department, response time."
    )
    created_at: datetime

    @classmethod
    def of(cls, m: Message) -> Self:
        provider_metadata = m.metadata.get("provider_metadata") or {}
        return cls(
            message_id=m.message_id,
            role=m.role,
            text=m.text,
            content=m.content,
            agent_name=m.agent_name,
            provider=m.provider,
            status=m.status,
            visible_to_user=m.visible_to_user,
            in_reply_to=m.in_reply_to,
            human=provider_metadata.get("human"),
            created_at=m.created_at,
        )


class ThreadView(BaseModel):
    thread_id: str
    user_id: str | None
    channel: str | None
    department: str | None
    user_tier: str | None
    owner: str
    assigned_agent: str | None

    @classmethod
    def of(cls, t: Thread) -> Self:
        return cls(
            thread_id=t.thread_id,
            user_id=t.user_id,
            channel=t.channel,
            department=t.department,
            user_tier=t.user_tier,
            owner=t.owner,
            assigned_agent=t.assigned_agent,
        )


class DeciderView(BaseModel):
    agent_id: str
    name: str


class HistoryEntry(BaseModel):
    """One thing that happened to an action ticket's tool call."""

    what: Literal["proposed", "edited", "approved", "denied", "expired", "executed"]
    at: datetime
    by: DeciderView | None = Field(description="The person who decided; null for the AI.")
    arguments: dict[str, Any] | None = Field(
        default=None,
        description="Proposed, edited to, approved or executed with.",
    )
    previous_arguments: dict[str, Any] | None = Field(
        default=None, description="What an edit replaced."
    )
    reason: str | None = Field(
        default=None, description="Why it needs approval, was denied, or expired."
    )
    outcome: Literal["succeeded", "failed"] | None = Field(
        default=None, description="How the call went (executed)."
    )
    status_code: int | None = Field(default=None, description="The HTTP tool's status.")
    error: str | None = None
    duration_ms: int | None = None

    @classmethod
    def of(cls, record: ActionRecord) -> Self:
        by = DeciderView(agent_id=record.by.agent_id, name=record.by.name) if record.by else None
        return cls.model_validate({**record.model_dump(exclude={"by"}), "by": by})


class TicketDetail(BaseModel):
    ticket: TicketView
    ai: AiView
    thread: ThreadView | None
    messages: list[MessageView] = Field(description="The thread's recent messages, oldest first.")
    notes: list[NoteView] = Field(
        default_factory=list, description="The ticket's internal notes, oldest first."
    )
    history: list[HistoryEntry] = Field(
        default_factory=list,
        description="What happened to an action ticket's tool call, oldest first: proposed, "
        "edited, approved or denied (by whom), expired, executed. Empty for other kinds.",
    )


class ReplyResult(BaseModel):
    message_id: uuid.UUID
    ticket: TicketView


class ThreadMessages(BaseModel):
    thread: ThreadView
    messages: list[MessageView]
    notes: list[NoteView] = Field(
        default_factory=list,
        description="Internal notes on the thread's tickets, oldest first: for the team only.",
    )


class OwnershipChange(BaseModel):
    at: datetime
    owner: Owner = Field(description="The new owner: the AI or people.")
    previous_owner: Owner | None
    agent_id: str | None = Field(description="The agent holding the thread, if one does.")
    reason: str

    @classmethod
    def of(cls, change: Ownership) -> Self:
        return cls(
            at=change.at,
            owner=change.owner,
            previous_owner=change.previous_owner,
            agent_id=change.agent_id,
            reason=change.reason,
        )


class ThreadOwnership(BaseModel):
    thread_id: str
    changes: list[OwnershipChange] = Field(description="The thread's owner changes, oldest first.")
