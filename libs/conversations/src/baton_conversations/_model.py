"""Threads and messages as the conversation core stores and hands them out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from baton_contracts import Event, Owner, derive_id, utc_now
from baton_runtime import Document, RefusedError

Role = Literal["user", "assistant", "tool"]
DraftStatus = Literal["pending_approval", "approved", "rejected"]


class UnknownThreadError(RefusedError):
    status = 404
    code = "unknown_thread"


@dataclass(frozen=True)
class Thread:
    thread_id: str
    user_id: str | None
    channel: str | None
    department: str | None
    user_tier: str | None
    owner: Owner
    assigned_agent: str | None
    status: str
    metadata: dict[str, str]
    created_at: datetime
    updated_at: datetime
    last_seq: int = 0
    """The last position handed out in the thread."""
    recent: tuple[str, ...] = ()
    """The ids of the messages at the thread's last positions, oldest first."""
    assignments: tuple[str, ...] = ()
    """The event ids of the thread's latest ownership changes (replays are recognised)."""
    gateway_id: str | None = None
    """The gateway that opened the thread, the only one that may read and write it over
    ingest's API (None: opened some other way)."""

    @classmethod
    def from_document(cls, doc: Document) -> Thread:
        return cls(
            thread_id=doc["_id"],
            user_id=doc.get("user_id"),
            channel=doc.get("channel"),
            department=doc.get("department"),
            user_tier=doc.get("user_tier"),
            owner=doc.get("owner", "ai"),
            assigned_agent=doc.get("assigned_agent"),
            status=doc.get("status", "open"),
            metadata=doc.get("metadata") or {},
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
            last_seq=int(doc.get("last_seq", 0)),
            recent=tuple(doc.get("recent") or ()),
            assignments=tuple(doc.get("assignments") or ()),
            gateway_id=doc.get("gateway_id"),
        )


@dataclass(frozen=True)
class Message:
    """One message of a thread.

    ``content`` is text, or for tool traffic a list of parts: ``{"type": "tool-call",
    "tool_call_id", "tool_name", "args"}`` or ``{"type": "tool-result", "tool_call_id",
    "tool_name", "result"}``. A draft (``status``) is hidden from the user until approved.
    """

    message_id: uuid.UUID
    thread_id: str
    role: Role
    content: str | list[dict[str, Any]]
    agent_name: str | None = None
    provider: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    status: DraftStatus | None = None
    visible_to_user: bool = True
    in_reply_to: uuid.UUID | None = None
    seq: int = 0
    """The message's position in its thread, handed out when it is stored."""
    created_at: datetime = field(default_factory=utc_now)

    @property
    def text(self) -> str:
        """The text of a text message; tool parts are summarised."""
        if isinstance(self.content, str):
            return self.content
        return " ".join(str(p.get("result") or p.get("tool_name") or "") for p in self.content)

    @property
    def settled(self) -> bool:
        """Whether nothing will change the message any more (all but a pending draft)."""
        return self.status != "pending_approval"

    def to_document(self) -> Document:
        return {
            "_id": str(self.message_id),
            "thread_id": self.thread_id,
            "seq": self.seq,
            "role": self.role,
            "content": self.content,
            "agent_name": self.agent_name,
            "metadata": {"provider": self.provider, **self.metadata},
            "status": self.status,
            "visible_to_user": self.visible_to_user,
            "in_reply_to": str(self.in_reply_to) if self.in_reply_to else None,
            "created_at": self.created_at,
        }

    @classmethod
    def from_document(cls, doc: Document) -> Message:
        metadata = dict(doc.get("metadata") or {})
        provider = metadata.pop("provider", None)
        return cls(
            message_id=uuid.UUID(doc["_id"]),
            thread_id=doc["thread_id"],
            role=doc["role"],
            content=doc["content"],
            agent_name=doc.get("agent_name"),
            provider=provider,
            metadata=metadata,
            status=doc.get("status"),
            visible_to_user=doc.get("visible_to_user", True),
            in_reply_to=uuid.UUID(doc["in_reply_to"]) if doc.get("in_reply_to") else None,
            seq=doc.get("seq", 0),
            created_at=doc["created_at"],
        )


@dataclass(frozen=True)
class Because:
    """Why a change happens: the id its event takes, and the chain of events it belongs
    to. Ids derive from what caused the change, so doing it again repeats the event."""

    event_id: uuid.UUID
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None

    @classmethod
    def of(cls, cause: Event, purpose: str) -> Because:
        """A change caused by ``cause``, one of possibly several (``purpose``)."""
        return cls(derive_id(cause.event_id, purpose), cause.correlation_id, cause.event_id)


@dataclass(frozen=True)
class Appended:
    message: Message
    created: bool
    """False when the message was stored before (a replay): it comes back as stored."""
    thread: Thread | None = None
    """The thread as it was when the message took its position (None for a replay)."""
