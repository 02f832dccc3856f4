"""The conversation core in MongoDB: the ``threads`` and ``messages`` collections, and the
only code that writes them.

* A message takes the position after the last one its thread lists (``last_seq``): it is
  inserted there, the unique index on ``(thread_id, seq)`` making the insert an atomic claim
  (a writer that loses the race tries the next one), together with the events that announce
  it (the runtime's outbox). Then the thread lists it among its ``recent`` ones and moves
  ``last_seq`` on. So a thread's latest messages are one read of the thread, which every
  handler makes anyway, and one lookup by ids; and concurrent writers share their inserts
  and their thread updates, a command for many.
* Listing a message with its thread is the insert's follow-up: for a message announced by
  events, the first entry of its outbox (a crash leaves it to the sweep); for the others,
  done right after the insert, and again by the replay that a crash in between leads to.
* A message's id derives from the event that produced it: storing it again finds the first
  one, lists it, and finishes announcing it, if that had not happened.
* An ownership change writes the owner and its ``thread.assigned`` event in one update,
  conditional on the owner the caller saw, and remembers the change's event id, so a
  replay changes nothing.
* A rating is one update of the thread, with its ``thread.rated`` event, conditional on
  the resolution the caller saw and on that resolution not being rated yet: one rating per
  resolution, whatever races.

What a crash leaves in an outbox, :meth:`Conversations.sweep` carries out.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_contracts import Owner, ThreadAssigned, ThreadRated, utc_now
from baton_runtime import (
    Document,
    Entry,
    EventPublisher,
    Grouped,
    GroupedWrites,
    Outbox,
    find_by_ids,
    insert_each,
    insert_once,
    merge,
    publishing,
)

from ._cache import Settled
from ._model import (
    Appended,
    Because,
    Message,
    RatedVia,
    Thread,
    ThreadResolution,
    UnknownThreadError,
    rating_event,
)
from ._store import Announce

log = logging.getLogger(__name__)

RECENT = 50
"""How many of its latest message ids a thread document lists."""
POSITION_INDEX = "thread_seq"
LIST = "list"
"""The follow-up that lists a stored message with its thread."""
ASSIGNMENTS = 20
"""How many of its latest ownership changes a thread document remembers."""
ATTEMPTS = 5
"""Tries of an ownership change whose thread changed between reading and writing."""
# The thread as handlers read it: its outbox is the relay's business.
THREAD_FIELDS = {"outbox": 0}


def _position_taken(exc: DuplicateKeyError) -> bool:
    """Whether the insert failed on the thread's position (not on the message's id)."""
    details = exc.details or {}
    if "keyPattern" in details:
        return "seq" in details["keyPattern"]
    return f"index: {POSITION_INDEX} " in str(details.get("errmsg", ""))


class Conversations:
    """Threads and messages in MongoDB (see the module). Concurrent callers share their
    lookups and inserts: under load one command carries many."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        publisher: EventPublisher,
        *,
        cache_size: int = 20_000,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._threads = db["threads"]
        self._messages = db["messages"]
        self._outbox = Outbox(publisher, kinds={LIST: self._list_entry}, clock=clock)
        self._settled = Settled(cache_size)
        # The positions this process took last, by thread: its next append to a thread it
        # has just written starts after them, whatever thread document it holds.
        self._taken: OrderedDict[str, int] = OrderedDict()
        self._thread_reads: Grouped[str, Document | None] = Grouped(
            lambda ids: find_by_ids(self._threads, ids, projection=THREAD_FIELDS)
        )
        self._message_reads: Grouped[str, Document | None] = Grouped(
            lambda ids: find_by_ids(self._messages, ids)
        )
        self._inserts: Grouped[Document, None] = Grouped(
            lambda docs: insert_each(self._messages, docs)
        )
        self._listings: GroupedWrites[tuple[str, int, str]] = GroupedWrites(self._list_each)

    async def ensure_indexes(self) -> None:
        await self._messages.create_index(
            [("thread_id", ASCENDING), ("seq", ASCENDING)], unique=True, name=POSITION_INDEX
        )
        await self._threads.create_index([("owner", ASCENDING), ("updated_at", DESCENDING)])
        await self._outbox.ensure_index(self._threads)
        await self._outbox.ensure_index(self._messages)

    # ------------------------------------------------------------ threads

    async def open_thread(
        self,
        *,
        user_id: str,
        channel: str | None,
        department: str | None,
        metadata: dict[str, str],
        thread_id: str | None = None,
        gateway_id: str | None = None,
    ) -> Thread:
        now = utc_now()
        doc: Document = {
            "_id": thread_id or uuid.uuid4().hex,
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
            "last_seq": 0,
            "recent": [],
            "assignments": [],
            "gateway_id": gateway_id,
        }
        if not await insert_once(self._threads, doc):
            existing = await self._threads.find_one({"_id": doc["_id"]}, projection=THREAD_FIELDS)
            assert existing is not None
            return Thread.from_document(existing)
        return Thread.from_document(doc)

    async def get_thread(self, thread_id: str) -> Thread | None:
        doc = await self._thread_reads.submit(thread_id)
        return Thread.from_document(doc) if doc else None

    async def require_thread(self, thread_id: str) -> Thread:
        thread = await self.get_thread(thread_id)
        if thread is None:
            raise UnknownThreadError(f"thread {thread_id!r} does not exist")
        return thread

    # ------------------------------------------------------------ messages

    async def append(
        self, message: Message, *, announce: Announce = (), thread: Thread | None = None
    ) -> Appended:
        message_id = str(message.message_id)
        known = thread or await self.require_thread(message.thread_id)
        seq = max(known.last_seq, self._taken.get(known.thread_id, 0)) + 1
        events = announce(known) if callable(announce) else announce
        entries = [publishing(event) for event in events]
        if entries:
            entries.insert(0, self._listing(known.thread_id, seq, message_id))
        for _ in range(ATTEMPTS * 20):
            stored = replace(message, seq=seq)
            try:
                await self._inserts.submit({**stored.to_document(), **self._outbox.fields(entries)})
            except DuplicateKeyError as exc:
                if not _position_taken(exc):
                    earlier = await self._stored(message_id)
                    if earlier is not None:
                        return earlier  # stored before: a replay
                # Another writer holds the position: start after what the thread lists now.
                fresh = await self.require_thread(known.thread_id)
                seq = max(seq, fresh.last_seq, self._taken.get(known.thread_id, 0)) + 1
                if entries:
                    entries[0] = self._listing(known.thread_id, seq, message_id)
                continue
            self._took(known.thread_id, seq)
            if entries:
                await self._announce(message_id, entries)
            else:
                await self._listings.submit((known.thread_id, seq, message_id))
            after = replace(
                known,
                last_seq=max(known.last_seq, seq),
                recent=(*known.recent, message_id)[-RECENT:],
            )
            return Appended(self._settled.keep(stored), created=True, thread=after)
        raise RuntimeError(f"no free position in thread {known.thread_id}")

    def _took(self, thread_id: str, seq: int) -> None:
        self._taken[thread_id] = max(seq, self._taken.get(thread_id, 0))
        self._taken.move_to_end(thread_id)
        if len(self._taken) > self._settled.size:
            self._taken.popitem(last=False)

    @staticmethod
    def _listing(thread_id: str, seq: int, message_id: str) -> Entry:
        data = json.dumps({"thread_id": thread_id, "seq": seq, "message_id": message_id})
        return Entry(f"{LIST}:{message_id}", LIST, data)

    async def _list_entry(self, data: str) -> None:
        listing = json.loads(data)
        await self._listings.submit(
            (listing["thread_id"], int(listing["seq"]), listing["message_id"])
        )

    async def _list_each(self, listings: list[tuple[str, int, str]]) -> None:
        """List stored messages with their threads, in one command: the thread's last
        position moves on to theirs, and their ids join its latest."""
        now = utc_now()
        updates = [
            (
                {"_id": thread_id},
                {
                    "$max": {"last_seq": seq},
                    "$push": {"recent": {"$each": [message_id], "$slice": -RECENT}},
                    "$set": {"updated_at": now},
                },
            )
            for thread_id, seq, message_id in listings
        ]
        if len(updates) == 1:
            await self._threads.update_one(*updates[0])
        else:
            await self._threads.bulk_write([UpdateOne(*u) for u in updates], ordered=False)

    async def _stored(self, message_id: str) -> Appended | None:
        """A message stored before, listed and announced if that had not finished."""
        doc = await self._messages.find_one({"_id": message_id})
        if doc is None:
            return None
        earlier = Message.from_document(doc)
        waiting = [Entry.from_document(e) for e in doc.get("outbox") or ()]
        if waiting:
            await self._announce(message_id, waiting)
        else:
            # Listing it again is harmless: readers drop an id listed twice.
            await self._listings.submit((earlier.thread_id, earlier.seq, message_id))
        return Appended(self._settled.keep(earlier), created=False)

    async def _announce(self, message_id: str, entries: list[Entry]) -> None:
        try:
            await self._outbox.deliver(self._messages, message_id, entries)
        except Exception:
            # Stored with its events: the sweep announces it once Kafka is back.
            log.warning(
                "message %s stored, announcing it left for the sweep", message_id, exc_info=True
            )

    async def get_message(self, message_id: uuid.UUID) -> Message | None:
        known = self._settled.get(str(message_id))
        if known is not None:
            return known
        doc = await self._message_reads.submit(str(message_id))
        return self._settled.keep(Message.from_document(doc)) if doc else None

    async def window(
        self, thread: Thread | str, *, limit: int, visible_only: bool = False
    ) -> list[Message]:
        read = await self.get_thread(thread) if isinstance(thread, str) else thread
        if read is None:
            return []
        # The latest ids are the window, unless hidden messages are to be left out of it.
        listed = read.recent if visible_only else read.recent[-limit:]
        messages = await self._by_ids(listed)
        if visible_only:
            messages = [m for m in messages if m.visible_to_user]
        if len(messages) < limit and read.last_seq > len(listed):
            # Older than the positions the thread lists: read back from the oldest listed.
            before = min((m.seq for m in messages), default=read.last_seq + 1)
            messages = [*await self._before(read.thread_id, before, limit, visible_only), *messages]
        return messages[-limit:]

    async def _by_ids(self, ids: tuple[str, ...]) -> list[Message]:
        found: dict[str, Message] = {}
        missing = []
        for message_id in dict.fromkeys(ids):
            known = self._settled.get(message_id)
            if known is not None:
                found[message_id] = known
            else:
                missing.append(message_id)
        if missing:
            docs = await asyncio.gather(*map(self._message_reads.submit, missing))
            for doc in docs:
                if doc is not None:
                    found[doc["_id"]] = self._settled.keep(Message.from_document(doc))
        return sorted(found.values(), key=lambda m: m.seq)

    async def _before(
        self, thread_id: str, seq: int, limit: int, visible_only: bool
    ) -> list[Message]:
        query: Document = {"thread_id": thread_id, "seq": {"$lt": seq}}
        if visible_only:
            query["visible_to_user"] = True
        cursor = self._messages.find(query).sort([("seq", DESCENDING)]).limit(limit)
        return [self._settled.keep(Message.from_document(doc)) async for doc in cursor][::-1]

    async def settle_draft(self, message_id: uuid.UUID, changes: dict[str, Any]) -> Message | None:
        doc = await self._messages.find_one_and_update(
            {"_id": str(message_id), "status": "pending_approval"},
            {"$set": changes},
            projection={"outbox": 0},
            return_document=ReturnDocument.AFTER,
        )
        return self._settled.keep(Message.from_document(doc)) if doc else None

    # ------------------------------------------------------------ ownership

    async def assign(
        self,
        thread: Thread,
        *,
        owner: Owner,
        agent_id: str | None,
        reason: str,
        because: Because,
        only_from: Owner | None = None,
    ) -> ThreadAssigned | None:
        change = str(because.event_id)
        seen = thread
        for _ in range(ATTEMPTS):
            if (
                change in seen.assignments
                or (seen.owner, seen.assigned_agent) == (owner, agent_id)
                or (only_from is not None and seen.owner != only_from)
            ):
                return None
            event = ThreadAssigned(
                event_id=because.event_id,
                thread_id=seen.thread_id,
                correlation_id=because.correlation_id,
                causation_id=because.causation_id,
                owner=owner,
                previous_owner=seen.owner,
                agent_id=agent_id,
                reason=reason[:1000],
            )
            entries = [publishing(event)]
            changed = await self._threads.update_one(
                {
                    "_id": seen.thread_id,
                    "owner": seen.owner,
                    "assigned_agent": seen.assigned_agent,
                    "assignments": {"$ne": change},
                },
                merge(
                    {
                        "$set": {
                            "owner": owner,
                            "assigned_agent": agent_id,
                            "updated_at": utc_now(),
                        },
                        "$push": {"assignments": {"$each": [change], "$slice": -ASSIGNMENTS}},
                    },
                    self._outbox.push(entries),
                ),
            )
            if changed.modified_count:
                await self._announce_thread(seen.thread_id, entries, "thread.assigned")
                return event
            seen = await self._reread(seen.thread_id)
        raise RuntimeError(f"the owner of thread {thread.thread_id} keeps changing")

    async def _announce_thread(self, thread_id: str, entries: list[Entry], what: str) -> None:
        try:
            await self._outbox.deliver(self._threads, thread_id, entries)
        except Exception:
            # Stored with the change: the sweep announces it once Kafka is back.
            log.warning("%s of %s left for the sweep", what, thread_id, exc_info=True)

    async def _reread(self, thread_id: str) -> Thread:
        """The thread as it is now, past the grouped reads: a conditional write lost to
        another change decides again on it."""
        fresh = await self._threads.find_one({"_id": thread_id}, projection=THREAD_FIELDS)
        if fresh is None:
            raise UnknownThreadError(f"thread {thread_id!r} does not exist")
        return Thread.from_document(fresh)

    # ------------------------------------------------------------ department

    async def set_department(self, thread_id: str, department: str | None) -> Thread:
        """Move the thread to ``department`` (a person transferred its conversation). One
        update of one field: setting the same department again changes nothing, so a
        follow-up carried out twice is harmless."""
        doc = await self._threads.find_one_and_update(
            {"_id": thread_id},
            {"$set": {"department": department, "updated_at": utc_now()}},
            projection=THREAD_FIELDS,
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise UnknownThreadError(f"thread {thread_id!r} does not exist")
        return Thread.from_document(doc)

    # ------------------------------------------------------------ resolutions and ratings

    async def record_resolution(self, thread_id: str, resolution: ThreadResolution) -> None:
        """One conditional update: a resolution carried out late (by the sweep) never
        replaces a later one, and the same one again changes nothing that matters."""
        await self._threads.update_one(
            {
                "_id": thread_id,
                "$or": [{"resolution": None}, {"resolution.at": {"$lt": resolution.at}}],
            },
            {"$set": {"resolution": resolution.to_document(), "updated_at": utc_now()}},
        )

    async def rate(
        self,
        thread: Thread,
        *,
        score: int,
        comment: str | None,
        via: RatedVia,
        because: Because,
    ) -> ThreadRated | None:
        seen = thread
        for _ in range(ATTEMPTS):
            event = rating_event(seen, score=score, comment=comment, via=via, because=because)
            if seen.rating is not None and seen.rating.event_id == str(because.event_id):
                return event  # this rating, recorded before: a replay
            if seen.rated:
                return None
            key = seen.rating_key
            # Once per resolution: the write applies only while the thread's latest
            # resolution is the one rated and nothing rated it yet.
            condition: Document = {"_id": seen.thread_id, "rating.key": {"$ne": key}}
            if seen.resolution is not None:
                condition["resolution.ticket_id"] = seen.resolution.ticket_id
            else:
                condition["resolution"] = None
            entries = [publishing(event)]
            now = utc_now()
            rating = {
                "key": key,
                "event_id": str(because.event_id),
                "score": score,
                "via": via,
                "at": now,
            }
            changed = await self._threads.update_one(
                condition,
                merge({"$set": {"rating": rating, "updated_at": now}}, self._outbox.push(entries)),
            )
            if changed.modified_count:
                await self._announce_thread(seen.thread_id, entries, "thread.rated")
                return event
            # Rated meanwhile, or resolved again: decide on the thread as it is now.
            seen = await self._reread(seen.thread_id)
        raise RuntimeError(f"thread {thread.thread_id} keeps being resolved")

    # ------------------------------------------------------------ recovery

    async def sweep(self, *, older_than: timedelta) -> int:
        """Announce what crashes left unannounced: messages, ownership changes, ratings."""
        threads = await self._outbox.sweep(self._threads, older_than=older_than)
        messages = await self._outbox.sweep(self._messages, older_than=older_than)
        return threads + messages
