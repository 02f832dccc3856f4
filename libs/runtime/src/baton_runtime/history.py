"""Thread history in MongoDB: the ``threads`` and ``messages`` collections.

Every service that reads or writes a conversation goes through this module, so the
document shapes live in one place. Writes are idempotent: a message's ``_id`` derives
from the event that produced it, and a repeated insert finds the earlier one.

* ``messages``: one document per message, ``_id`` = the message id, with its position in the
  thread, ``seq``, under a unique index on ``(thread_id, seq)``. The truth about a message,
  including what changes later (a draft's status). A message takes the next position of its
  thread by being inserted there, an atomic claim under both unique keys: positions run 1,
  2, 3... without gaps, and a writer that loses the race tries the next one.
* ``threads``: besides the thread's own fields, two hints moved on after every append:
  ``head``, the highest position known to be taken, and ``recent``, the message ids at the
  thread's last ``RECENT_POSITIONS`` positions (``{"<seq>": message id}``). One read of the
  thread document therefore tells where its end is and what its latest messages are. Both
  are only hints: they lag behind a message (a writer between its insert and the update, a
  crash, or on FerretDB a lost update), never run ahead of it, and readers and writers step
  forward from the head.

Reads on the message path are lookups by ``_id``, the one query every MongoDB-wire server
answers from an index. A position that the hints do not list is looked up by the exact
``(thread_id, seq)`` pair, which mongo-java-server and MongoDB answer from the unique index
(FerretDB v1 scans): a probe past a head that may lag, and positions older than the hints.

Each process keeps what can no longer change in a bounded cache: positions (a position never
names another message) and settled messages (all but drafts awaiting a decision; nothing
rewrites a settled message's content, status or visibility). So reading a thread's window
costs the thread document and the messages that are new since the last read; a caller that
has just read the thread passes it and saves that read too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_contracts import utc_now

from ._errors import RefusedError
from ._grouped import Grouped, GroupedWrites
from ._mongo import Document, find_by_ids, insert_each, insert_once, update_each

Role = Literal["user", "assistant", "tool"]
Owner = Literal["ai", "human"]
DraftStatus = Literal["pending_approval", "approved", "rejected"]

RECENT_POSITIONS = 50
"""How many of a thread's last positions its document lists."""


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
    head: int = 0
    """When read: the highest position known to be taken (a hint, see the module)."""
    recent: dict[int, str] = field(default_factory=dict)
    """When read: position -> message id for the thread's last positions (a hint)."""

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
            head=int(doc.get("head", 0)),
            recent={int(seq): message_id for seq, message_id in doc.get("recent", {}).items()},
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


class UnknownThreadError(RefusedError):
    status = 404
    code = "unknown_thread"


K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    """A least-recently-used map of at most ``size`` entries."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


def settled(message: Message) -> bool:
    """Whether nothing will change the message any more (see the module's docstring)."""
    return message.status != "pending_approval"


class MongoHistory:
    def __init__(self, db: AsyncDatabase[Document], *, cache_size: int = 20_000) -> None:
        self.threads = db["threads"]
        self._messages = db["messages"]
        # (thread id, seq) -> message id
        self._known_positions: Recent[tuple[str, int], str] = Recent(cache_size)
        self._settled: Recent[str, Message] = Recent(cache_size)  # message id -> message
        # Lookups by id, message inserts and hint updates of concurrent callers (a batch's
        # threads, an API's requests) share their round trips: under load one command
        # carries many, and a lone caller's goes at once.
        self._thread_reads: Grouped[str, Document | None] = Grouped(
            lambda ids: find_by_ids(self.threads, ids)
        )
        self._message_reads: Grouped[str, Document | None] = Grouped(
            lambda ids: find_by_ids(self._messages, ids)
        )
        self._inserts: Grouped[Document, None] = Grouped(
            lambda docs: insert_each(self._messages, docs)
        )
        self._notes: GroupedWrites[tuple[Document, Document]] = GroupedWrites(
            lambda updates: update_each(self.threads, updates)
        )

    def _remember(self, message: Message) -> Message:
        if settled(message):
            self._settled.put(str(message.message_id), message)
        return message

    def _known_end(self, thread_id: str, seq: int) -> int:
        """``seq``, or further on while this process knows the next position to be taken."""
        while self._known_positions.get((thread_id, seq + 1)) is not None:
            seq += 1
        return seq

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
            "head": 0,
            "recent": {},
        }
        if await insert_once(self.threads, doc):
            return Thread.from_document(doc), True
        existing = await self.threads.find_one({"_id": thread_id})
        assert existing is not None
        return Thread.from_document(existing), False

    async def get_thread(self, thread_id: str) -> Thread | None:
        doc = await self._thread_reads.submit(thread_id)
        return Thread.from_document(doc) if doc else None

    async def require_thread(self, thread_id: str) -> Thread:
        """The thread, or :class:`UnknownThreadError` (a 404 over HTTP)."""
        thread = await self.get_thread(thread_id)
        if thread is None:
            raise UnknownThreadError(f"thread {thread_id!r} does not exist")
        return thread

    async def get_message(self, message_id: uuid.UUID) -> Message | None:
        known = self._settled.get(str(message_id))
        if known is not None:
            return known
        doc = await self._message_reads.submit(str(message_id))
        return self._remember(Message.from_document(doc)) if doc else None

    async def append(
        self, message: Message, *, thread: Thread | None = None
    ) -> tuple[Message, bool]:
        """Store ``message`` at the end of its thread; returns (stored, created).

        ``thread`` is the thread as the caller has just read it; without it the thread is
        read here (:class:`UnknownThreadError` when there is none).

        A message whose id exists already is not written again: the stored one comes back
        with ``created=False``, which is how a replayed event is recognised. The thread's
        hints are moved on after the insert; a writer that stopped in between left them
        behind, and its replay moves them on.
        """
        message_id = str(message.message_id)
        if thread is None:
            thread = await self.require_thread(message.thread_id)
        if message_id in thread.recent.values():
            # Listed by the thread, so stored already: a replay.
            existing = await self._message_reads.submit(message_id)
            if existing is not None:
                return self._remember(Message.from_document(existing)), False
        seq = self._known_end(message.thread_id, thread.head) + 1
        for _ in range(1000):
            stored = replace(message, seq=seq)
            try:
                await self._inserts.submit(stored.to_document())
            except DuplicateKeyError:
                # Either this message is stored already (an earlier or concurrent attempt),
                # or another one holds the position and the next one is tried.
                existing = await self._message_reads.submit(message_id)
                if existing is None:
                    seq = self._known_end(message.thread_id, seq) + 1
                    continue
                earlier = Message.from_document(existing)
                if earlier.seq > thread.head - RECENT_POSITIONS:
                    # An attempt that stopped before the hints may have left them behind.
                    await self._note(earlier.thread_id, earlier.seq, message_id)
                return self._remember(earlier), False
            self._known_positions.put((message.thread_id, seq), message_id)
            await self._note(message.thread_id, seq, message_id)
            return self._remember(stored), True
        raise RuntimeError(f"could not append to thread {message.thread_id}: no free position")

    async def _note(self, thread_id: str, seq: int, message_id: str) -> None:
        """Move the thread's hints on to include position ``seq`` (idempotent)."""
        change: Document = {"$max": {"head": seq}, "$set": {f"recent.{seq}": message_id}}
        if seq > RECENT_POSITIONS:
            change["$unset"] = {f"recent.{seq - RECENT_POSITIONS}": ""}
        await self._notes.submit(({"_id": thread_id}, change))

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

    async def messages(
        self, thread: str | Thread, *, limit: int = 50, user_visible_only: bool = False
    ) -> list[Message]:
        """The last ``limit`` messages of the thread, oldest first ([] for an unknown thread).

        Given a :class:`Thread` the caller has just read, the window ends where the thread
        did then, or at a later position this process has taken since. Given a thread id, the
        thread is read, and positions past its head are probed so that a lagging head hides
        nothing.

        Read backwards from the last position in batches of ``limit`` positions, each batch
        looked up concurrently, until ``limit`` messages qualify or the thread's start is
        reached."""
        if isinstance(thread, str):
            read = await self.get_thread(thread)
            if read is None:
                return []
        else:
            read = thread
        for seq, message_id in read.recent.items():
            self._known_positions.put((read.thread_id, seq), message_id)
        upper = self._known_end(read.thread_id, read.head)
        if isinstance(thread, str):
            upper = await self._probe(read.thread_id, upper)
        found: list[Message] = []
        while upper >= 1 and len(found) < limit:
            lower = max(1, upper - limit + 1)
            batch = await self._at_positions(read.thread_id, range(upper, lower - 1, -1))
            found += [m for m in batch if m.visible_to_user or not user_visible_only]
            upper = lower - 1
        return list(reversed(found[:limit]))

    async def _at(self, thread_id: str, seq: int) -> Message | None:
        """The message at position ``seq``, looked up by the pair the unique index holds."""
        doc = await self._messages.find_one({"thread_id": thread_id, "seq": seq})
        if doc is None:
            return None
        self._known_positions.put((thread_id, seq), doc["_id"])
        return self._remember(Message.from_document(doc))

    async def _probe(self, thread_id: str, seq: int) -> int:
        """The thread's last taken position: ``seq``, then forward while taken."""
        while await self._at(thread_id, seq + 1) is not None:
            seq = self._known_end(thread_id, seq + 1)
        return seq

    async def _at_positions(self, thread_id: str, seqs: range) -> list[Message]:
        """The messages at ``seqs``, in that order: by id where the position is known, else by
        the position itself."""

        async def one(seq: int) -> Message | None:
            message_id = self._known_positions.get((thread_id, seq))
            if message_id is None:
                return await self._at(thread_id, seq)
            return await self.get_message(uuid.UUID(message_id))

        messages = await asyncio.gather(*(one(seq) for seq in seqs))
        return [m for m in messages if m is not None]

    async def set_owner(self, thread_id: str, owner: Owner, agent_id: str | None) -> Owner | None:
        """Set the owner; returns the previous owner (None for an unknown thread)."""
        before = await self.threads.find_one_and_update(
            {"_id": thread_id},
            {"$set": {"owner": owner, "assigned_agent": agent_id, "updated_at": utc_now()}},
            return_document=ReturnDocument.BEFORE,
        )
        return before.get("owner", "ai") if before else None
