"""Threads and messages as the conversation core stores and hands them out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from baton_contracts import Event, HumanAgent, Owner, ThreadRated, derive_id, utc_now
from baton_runtime import Document, RefusedError

Role = Literal["user", "assistant", "tool"]
DraftStatus = Literal["pending_approval", "approved", "rejected"]
RatedVia = Literal["api", "text"]


class UnknownThreadError(RefusedError):
    status = 404
    code = "unknown_thread"


@dataclass(frozen=True)
class ThreadResolution:
    """A person's resolution of the thread's conversation: what a rating of it is about."""

    ticket_id: str
    agent_id: str
    agent_name: str
    agent_department: str | None
    """The department the agent acted for."""
    department: str | None
    """The conversation's department when it was resolved."""
    at: datetime

    @property
    def rating_key(self) -> str:
        return f"ticket:{self.ticket_id}"

    def to_document(self) -> Document:
        return {
            "ticket_id": self.ticket_id,
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "agent_department": self.agent_department,
            "department": self.department,
            "at": self.at,
        }

    @classmethod
    def from_document(cls, doc: Document) -> ThreadResolution:
        return cls(
            ticket_id=doc["ticket_id"],
            agent_id=doc["agent_id"],
            agent_name=doc["agent_name"],
            agent_department=doc.get("agent_department"),
            department=doc.get("department"),
            at=doc["at"],
        )


AI_RATING_KEY = "ai"
"""What a rating of a thread no person resolved is about: the AI's handling of it."""


@dataclass(frozen=True)
class ThreadRating:
    """The user's latest rating: of the resolution ``key`` names (``ticket:<id>``, or
    ``ai`` for a thread no person resolved), announced by the ``thread.rated`` of
    ``event_id``."""

    key: str
    event_id: str
    score: int
    via: str
    at: datetime

    @classmethod
    def from_document(cls, doc: Document) -> ThreadRating:
        return cls(
            key=doc["key"],
            event_id=doc["event_id"],
            score=int(doc["score"]),
            via=doc["via"],
            at=doc["at"],
        )


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
    resolution: ThreadResolution | None = None
    """The latest time a person resolved the conversation (None: no person ever did)."""
    rating: ThreadRating | None = None
    """The user's latest rating; once per resolution."""

    @property
    def rating_key(self) -> str:
        """What a rating now is about: the latest resolution, else the AI's handling."""
        return self.resolution.rating_key if self.resolution else AI_RATING_KEY

    @property
    def rated(self) -> bool:
        """Whether what a rating now is about has been rated already."""
        return self.rating is not None and self.rating.key == self.rating_key

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
            resolution=ThreadResolution.from_document(doc["resolution"])
            if doc.get("resolution")
            else None,
            rating=ThreadRating.from_document(doc["rating"]) if doc.get("rating") else None,
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


def rating_event(
    thread: Thread, *, score: int, comment: str | None, via: RatedVia, because: Because
) -> ThreadRated:
    """The ``thread.rated`` of a rating of ``thread`` as it is: of its latest resolution,
    attributed to the agent who resolved it, or of the AI when no person resolved it."""
    resolution = thread.resolution
    return ThreadRated(
        event_id=because.event_id,
        thread_id=thread.thread_id,
        correlation_id=because.correlation_id,
        causation_id=because.causation_id,
        score=score,
        comment=comment,
        resolved_by="human" if resolution else "ai",
        ticket_id=resolution.ticket_id if resolution else None,
        agent=HumanAgent(
            agent_id=resolution.agent_id,
            name=resolution.agent_name,
            department=resolution.agent_department,
        )
        if resolution
        else None,
        department=resolution.department if resolution else thread.department,
        via=via,
    )
