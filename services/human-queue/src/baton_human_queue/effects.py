"""What a ticket change leads to, recorded on the ticket in the same atomic update.

MongoDB here offers no multi-document transactions, so a change that must also store a
message, move a thread's owner and publish events writes those follow-ups into the
ticket's ``outbox`` together with the change itself. They are then carried out in order
and removed; whatever a crash leaves behind, the sweep carries out later. Every follow-up
is idempotent (derived ids, unique keys), so carrying one out twice changes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from baton_contracts import Event, HumanAgent, Owner, TicketKind, decode
from baton_runtime import Document
from baton_runtime.history import Message

EffectKind = Literal["event", "owner", "message", "feedback", "claim_opened", "claim_closed"]
FeedbackKind = Literal["approval", "rejection", "answer", "reply"]
ClaimOutcome = Literal["released", "expired", "resolved"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class OwnerChange(_Payload):
    thread_id: str
    owner: Owner
    agent_id: str | None


class ClaimOpened(_Payload):
    claim_id: str
    ticket_id: str
    thread_id: str
    kind: TicketKind
    department: str | None
    agent_id: str
    agent_name: str
    ticket_created_at: AwareDatetime
    claimed_at: AwareDatetime


class ClaimClosed(_Payload):
    claim_id: str
    ended_at: AwareDatetime
    outcome: ClaimOutcome


class AiOutput(_Payload):
    """The AI output a person's feedback corrects or confirms."""

    kind: Literal["draft", "question", "suggestion"]
    text: str | None
    message_id: uuid.UUID | None = None
    request_id: uuid.UUID | None = None
    tool_call_id: str | None = None
    reason: str | None = None


class Feedback(_Payload):
    feedback_id: str
    kind: FeedbackKind
    ticket_id: str
    thread_id: str
    ai_output: AiOutput
    human_text: str | None = None
    review: str | None = None
    edited: bool | None = None
    agent: HumanAgent
    at: AwareDatetime

    def to_document(self) -> Document:
        doc = self.model_dump(mode="json", exclude={"feedback_id", "at"})
        return {"_id": self.feedback_id, **doc, "at": self.at}


class StoredMessage(_Payload):
    """A thread message as it travels in the outbox."""

    message_id: uuid.UUID
    thread_id: str
    role: Literal["user", "assistant", "tool"]
    content: str
    agent_name: str | None
    provider: str | None
    metadata: dict[str, Any]
    in_reply_to: uuid.UUID | None
    created_at: AwareDatetime

    def to_message(self) -> Message:
        return Message(
            message_id=self.message_id,
            thread_id=self.thread_id,
            role=self.role,
            content=self.content,
            agent_name=self.agent_name,
            provider=self.provider,
            metadata=dict(self.metadata),
            in_reply_to=self.in_reply_to,
            created_at=self.created_at,
        )


Payload = Event | OwnerChange | ClaimOpened | ClaimClosed | Feedback | StoredMessage

_PAYLOADS: dict[EffectKind, type[_Payload]] = {
    "owner": OwnerChange,
    "message": StoredMessage,
    "feedback": Feedback,
    "claim_opened": ClaimOpened,
    "claim_closed": ClaimClosed,
}


@dataclass(frozen=True)
class Effect:
    """One follow-up of a ticket change; ``data`` is JSON so the stored entry compares
    exactly when it is removed again."""

    id: str
    kind: EffectKind
    data: str

    def to_document(self) -> dict[str, str]:
        return {"id": self.id, "kind": self.kind, "data": self.data}

    @classmethod
    def from_document(cls, doc: Document) -> Effect:
        return cls(id=doc["id"], kind=doc["kind"], data=doc["data"])

    def payload(self) -> Payload:
        if self.kind == "event":
            return decode(self.data)
        return _PAYLOADS[self.kind].model_validate_json(self.data)  # type: ignore[return-value]


def publish(event: Event) -> Effect:
    return Effect(f"event:{event.event_id}", "event", event.model_dump_json())


def set_owner(purpose: str, thread_id: str, owner: Owner, agent_id: str | None) -> Effect:
    change = OwnerChange(thread_id=thread_id, owner=owner, agent_id=agent_id)
    return Effect(f"owner:{purpose}", "owner", change.model_dump_json())


def store_message(message: Message) -> Effect:
    assert isinstance(message.content, str)
    payload = StoredMessage(
        message_id=message.message_id,
        thread_id=message.thread_id,
        role=message.role,
        content=message.content,
        agent_name=message.agent_name,
        provider=message.provider,
        metadata=message.metadata,
        in_reply_to=message.in_reply_to,
        created_at=message.created_at,
    )
    return Effect(f"message:{message.message_id}", "message", payload.model_dump_json())


def record_feedback(feedback: Feedback) -> Effect:
    return Effect(f"feedback:{feedback.feedback_id}", "feedback", feedback.model_dump_json())


def open_claim(claim: ClaimOpened) -> Effect:
    return Effect(f"claim_opened:{claim.claim_id}", "claim_opened", claim.model_dump_json())


def close_claim(claim_id: str, ended_at: datetime, outcome: ClaimOutcome) -> Effect:
    closed = ClaimClosed(claim_id=claim_id, ended_at=ended_at, outcome=outcome)
    return Effect(f"claim_closed:{claim_id}", "claim_closed", closed.model_dump_json())
