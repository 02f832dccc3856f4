"""Thread history in MongoDB: the ``threads`` and ``messages`` collections.

Every service that reads or writes a conversation goes through this module, so the
document shapes live in one place. Writes are idempotent: a message's ``_id`` derives
from the event that produced it, and a repeated insert finds the earlier one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_contracts import utc_now

from .mongo import Document

Role = Literal["user", "assistant", "tool"]
Owner = Literal["ai", "human"]
DraftStatus = Literal["pending_approval", "approved", "rejected"]


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
            metadata=doc.get("metadata", {}),
            created_at=doc["created_at"],
            updated_at=doc["updated_at"],
        )


@dataclass(frozen=True)
class Message:
    """One message of a thread.

    ``content`` is text, or for tool traffic a list of parts: ``{"type": "tool-call",
    "tool_call_id", "tool_name", "args"}`` or ``{"type": "tool-result", "tool_call_id",
    "tool_name", "result"}``.
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
    created_at: datetime = field(default_factory=utc_now)

    @property
    def text(self) -> str:
        """The text of a text message; tool parts are summarised."""
        if isinstance(self.content, str):
            return self.content
        return " ".join(str(p.get("result") or p.get("tool_name") or "") for p in self.content)

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


class HistoryStore(Protocol):
    """What services need of thread history; :class:`MongoHistory` is the real one."""

    async def get_thread(self, thread_id: str) -> Thread | None: ...

    async def get_message(self, message_id: uuid.UUID) -> Message | None: ...

    async def append(self, message: Message, **extra: Any) -> tuple[Message, bool]: ...

    async def messages(
        self, thread_id: str, *, limit: int = 50, user_visible_only: bool = False
    ) -> list[Message]: ...

    async def set_owner(
        self, thread_id: str, owner: Owner, agent_id: str | None
    ) -> Owner | None: ...


class MongoHistory:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.threads = db["threads"]
        self._messages = db["messages"]

    async def ensure_indexes(self) -> None:
        await self._messages.create_index(
            [("thread_id", ASCENDING), ("seq", ASCENDING)], unique=True, name="thread_seq"
        )
        await self.threads.create_index([("owner", ASCENDING), ("updated_at", DESCENDING)])

    async def create_thread(
        self,
        thread_id: str,
        *,
        user_id: str | None,
        channel: str | None,
        department: str | None,
        metadata: dict[str, str],
    ) -> tuple[Thread, bool]:
        """Create the thread; an existing one with the same id is returned unchanged."""
        now = utc_now()
        doc: Document = {
            "_id": thread_id,
            "user_id": user_id,
            "channel": channel,
            "department": department,
            "user_tier": metadata.get("tier"),
            "metadata": metadata,
            "owner": "ai",
            "assigned_agent": None,
            "status": "open",
            "created_at": now,
            "updated_at": now,
        }
        try:
            await self.threads.insert_one(doc)
        except DuplicateKeyError:
            existing = await self.threads.find_one({"_id": thread_id})
            assert existing is not None
            return Thread.from_document(existing), False
        return Thread.from_document(doc), True

    async def get_thread(self, thread_id: str) -> Thread | None:
        doc = await self.threads.find_one({"_id": thread_id})
        return Thread.from_document(doc) if doc else None

    async def get_message(self, message_id: uuid.UUID) -> Message | None:
        doc = await self._messages.find_one({"_id": str(message_id)})
        return Message.from_document(doc) if doc else None

    async def get_message_document(self, message_id: uuid.UUID) -> Document | None:
        return await self._messages.find_one({"_id": str(message_id)})

    async def append(self, message: Message, **extra: Any) -> tuple[Message, bool]:
        """Store ``message`` at the end of its thread; returns (stored, created).

        A message whose id exists already is not written again: the stored one comes back
        with ``created=False``, which is how a replayed event is recognised.

        The position in the thread (``seq``) is claimed by inserting under the unique
        (thread_id, seq) index, retrying with the next number when a concurrent writer
        took it. Inserts against a unique index are atomic on every MongoDB-wire server
        Baton supports, whereas a counter on the thread document is not on FerretDB v1
        (it rewrites the whole document, which could also undo a concurrent owner change).
        """
        for _ in range(50):
            existing = await self._messages.find_one({"_id": str(message.message_id)})
            if existing is not None:
                return Message.from_document(existing), False
            last = await self._messages.find_one(
                {"thread_id": message.thread_id}, sort=[("seq", DESCENDING)]
            )
            stored = Message(**{**message.__dict__, "seq": (last["seq"] + 1) if last else 1})
            try:
                await self._messages.insert_one({**stored.to_document(), **extra})
            except DuplicateKeyError:
                continue  # our id (a replay: found above next time) or our seq was taken
            return stored, True
        raise RuntimeError(f"could not append to thread {message.thread_id}: too much contention")

    async def update_message(
        self, message_id: uuid.UUID, changes: Document, *, status: str | None = None
    ) -> bool:
        """Set ``changes`` on a message; with ``status``, only while it still has that status
        (a draft is approved or rejected once). True when the message changed."""
        query: Document = {"_id": str(message_id)}
        if status is not None:
            query["status"] = status
        result = await self._messages.update_one(query, {"$set": changes})
        return result.modified_count > 0

    async def unpublished(self, *, created_before: datetime, limit: int) -> list[Document]:
        """Stored messages still marked ``published: false`` (see ingest's recovery sweep)."""
        cursor = (
            self._messages.find({"published": False, "created_at": {"$lt": created_before}})
            .sort([("created_at", ASCENDING)])
            .limit(limit)
        )
        return [doc async for doc in cursor]

    async def messages(
        self, thread_id: str, *, limit: int = 50, user_visible_only: bool = False
    ) -> list[Message]:
        """The last ``limit`` messages of the thread, oldest first."""
        query: Document = {"thread_id": thread_id}
        if user_visible_only:
            query["visible_to_user"] = True
        cursor = self._messages.find(query).sort([("seq", DESCENDING)]).limit(limit)
        docs = [doc async for doc in cursor]
        return [Message.from_document(d) for d in reversed(docs)]

    async def set_owner(self, thread_id: str, owner: Owner, agent_id: str | None) -> Owner | None:
        """Set the owner; returns the previous owner (None for an unknown thread)."""
        before = await self.threads.find_one_and_update(
            {"_id": thread_id},
            {"$set": {"owner": owner, "assigned_agent": agent_id, "updated_at": utc_now()}},
            return_document=ReturnDocument.BEFORE,
        )
        return before.get("owner", "ai") if before else None
