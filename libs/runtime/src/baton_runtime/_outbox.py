"""The outbox: what a change leads to, stored in the same write as the change.

MongoDB makes one document's write atomic, and nothing more. So a change that must be
announced (an event to publish) or followed up (a message to store elsewhere) writes those
follow-ups into the changed document's ``outbox`` field, in the same insert or update. Then
they are carried out, in order, and taken off the document.

The guarantee: every follow-up of a stored change is carried out at least once, and none of
a change that was not stored. If the process stops between the write and the end of the
follow-ups, the document keeps them, and a sweep (:meth:`Outbox.sweep`) carries them out
once they are older than a grace period. A follow-up must therefore be idempotent: events
keep their ids (consumers drop repeats), writes use ids derived from the change.

With tracing on, each entry keeps the trace context of the change that stored it, and the
sweep carries out a document's entries in a span of that trace: a hop that a crash delayed
stays in the conversation's trace (decision 21).

Entries are taken off by their ids, so follow-ups another change added meanwhile stay. A
document's ``outbox_at`` is the time follow-ups were last stored in it; the sweep reads the
documents whose outbox is not empty and whose ``outbox_at`` is older than the grace period
(under a partial index on real MongoDB), and takes each by moving ``outbox_at`` on, so two
sweepers never carry out the same entries at once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from baton_contracts import Event, decode, utc_now

from ._grouped import GroupedWrites
from ._kafka import EventPublisher
from ._mongo import Document, Unreadable
from ._tracing import current_carrier, relaying

log = logging.getLogger(__name__)

OUTBOX = "outbox"
OUTBOX_AT = "outbox_at"
WAITING = f"{OUTBOX}.0"
"""A document has follow-ups waiting when its outbox has a first entry."""
EVENT = "event"
TRACE = "trace"

Apply = Callable[[str], Awaitable[None]]
"""Carries out one follow-up of a kind, given its data; idempotent."""


@dataclass(frozen=True)
class Entry:
    """One follow-up: an event to publish (kind ``event``), or work of a kind the owner of
    the document carries out (:class:`Outbox`'s ``kinds``). ``data`` is JSON, as stored."""

    id: str
    kind: str
    data: str
    event: Event | None = field(default=None, compare=False, repr=False)
    """The event itself, for an entry made in this process: not decoded again."""
    trace: Mapping[str, str] | None = field(default=None, compare=False, repr=False)
    """The trace context of the change that stored the entry (tracing on only), so that
    a sweep carries it out in that change's trace."""

    def decoded(self) -> Event:
        return self.event if self.event is not None else decode(self.data)

    def to_document(self) -> Document:
        doc: Document = {"id": self.id, "kind": self.kind, "data": self.data}
        trace = self.trace or current_carrier()
        if trace:
            doc[TRACE] = dict(trace)
        return doc

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Entry:
        return cls(id=doc["id"], kind=doc["kind"], data=doc["data"], trace=doc.get(TRACE))


def publishing(event: Event) -> Entry:
    """The follow-up that publishes ``event``."""
    return Entry(f"event:{event.event_id}", EVENT, event.model_dump_json(), event)


def events_of(entries: Iterable[Entry]) -> list[Event]:
    return [entry.decoded() for entry in entries if entry.kind == EVENT]


class Outbox:
    """Stores follow-ups with changes, carries them out, and sweeps up after crashes.

    ``kinds`` carry out the follow-ups that are not events. Taking entries off documents is
    shared by concurrent callers: under load one command clears many documents.
    """

    def __init__(
        self,
        publisher: EventPublisher,
        *,
        kinds: Mapping[str, Apply] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._publisher = publisher
        self._kinds = dict(kinds or {})
        self._now = clock
        self._clears: dict[str, GroupedWrites[tuple[object, list[str]]]] = {}
        self._unreadable: dict[str, Unreadable] = {}

    # ------------------------------------------------------------ storing

    def fields(self, entries: Sequence[Entry], *, now: datetime | None = None) -> Document:
        """The outbox fields of a new document (none without entries)."""
        if not entries:
            return {}
        return {OUTBOX: [e.to_document() for e in entries], OUTBOX_AT: now or self._now()}

    def push(self, entries: Sequence[Entry], *, now: datetime | None = None) -> Document:
        """Update operators that add ``entries`` to a document's outbox, to merge into the
        update that makes the change (see :func:`merge`)."""
        if not entries:
            return {}
        return {
            "$push": {OUTBOX: {"$each": [e.to_document() for e in entries]}},
            "$set": {OUTBOX_AT: now or self._now()},
        }

    @staticmethod
    async def ensure_index(collection: AsyncCollection[Document]) -> None:
        """The index the sweep's query uses: only documents with follow-ups are in it."""
        await collection.create_index(
            [(OUTBOX_AT, ASCENDING)], partialFilterExpression={WAITING: {"$exists": True}}
        )

    # ------------------------------------------------------------ carrying out

    async def deliver(
        self, collection: AsyncCollection[Document], doc_id: object, entries: Sequence[Entry]
    ) -> None:
        """Carry out ``entries`` in order, then take them off the document. An error leaves
        them there (for a retry, a redelivery or the sweep) and is raised."""
        if not entries:
            return
        await self.carry_out(entries)
        await self._clear(collection, doc_id, entries)

    async def carry_out(self, entries: Sequence[Entry]) -> None:
        """Carry out ``entries`` in order; consecutive events go out together."""
        events: list[Event] = []
        for entry in entries:
            if entry.kind == EVENT:
                events.append(entry.decoded())
                continue
            if events:
                await self._publisher.publish(events)
                events = []
            apply = self._kinds.get(entry.kind)
            if apply is None:
                raise LookupError(f"no follow-up of kind {entry.kind!r} is known here")
            await apply(entry.data)
        if events:
            await self._publisher.publish(events)

    async def _clear(
        self, collection: AsyncCollection[Document], doc_id: object, entries: Sequence[Entry]
    ) -> None:
        name = collection.full_name
        clears = self._clears.get(name)
        if clears is None:
            clears = self._clears[name] = GroupedWrites(
                lambda items: _clear_each(collection, items)
            )
        await clears.submit((doc_id, [e.id for e in entries]))

    # ------------------------------------------------------------ sweeping

    async def sweep(
        self,
        collection: AsyncCollection[Document],
        *,
        older_than: timedelta,
        limit: int = 200,
    ) -> int:
        """Carry out what crashes left in ``collection``: the entries of documents whose
        outbox is older than ``older_than``. Returns how many documents were finished."""
        now = self._now()
        unreadable = self._unreadable.setdefault(
            collection.full_name,
            Unreadable(reader=f"outbox sweep of {collection.name}", kind="follow-up"),
        )
        cursor = collection.find(
            {OUTBOX_AT: {"$lte": now - older_than}, WAITING: {"$exists": True}},
            projection={OUTBOX: 1, OUTBOX_AT: 1},
        ).limit(limit + unreadable.count)
        finished = 0
        for doc, entries in unreadable.parse(await cursor.to_list(), _entries_of):
            # Moved on by at least a millisecond (what a stored time keeps), so that taking
            # it always changes the document and two sweepers cannot both take it.
            taken_at = max(now, doc[OUTBOX_AT] + timedelta(milliseconds=1))
            taken = await collection.update_one(
                {"_id": doc["_id"], OUTBOX_AT: doc[OUTBOX_AT]}, {"$set": {OUTBOX_AT: taken_at}}
            )
            if not taken.modified_count:
                continue  # another sweeper, or a new change, came first
            try:
                with relaying([e.trace for e in entries], name=f"outbox relay {collection.name}"):
                    await self.deliver(collection, doc["_id"], entries)
            except Exception:
                log.warning(
                    "outbox of %s %r left for the next sweep",
                    collection.name,
                    doc["_id"],
                    exc_info=True,
                )
                continue
            finished += 1
        if finished:
            log.info("outbox sweep of %s carried out %d document(s)", collection.name, finished)
        return finished


def _entries_of(doc: Document) -> tuple[Document, list[Entry]]:
    return doc, [Entry.from_document(e) for e in doc.get(OUTBOX) or ()]


def merge(*updates: Document) -> Document:
    """Update documents merged operator by operator (a change and its outbox push)."""
    merged: Document = {}
    for update in updates:
        for operator, fields in update.items():
            merged.setdefault(operator, {}).update(fields)
    return merged


async def _clear_each(
    collection: AsyncCollection[Document], items: Sequence[tuple[object, list[str]]]
) -> None:
    """Take delivered entries off their documents, by entry id, in one command."""
    pulls = [
        UpdateOne({"_id": doc_id}, {"$pull": {OUTBOX: {"id": {"$in": ids}}}})
        for doc_id, ids in items
    ]
    if len(pulls) == 1:
        [(doc_id, ids)] = items
        await collection.update_one({"_id": doc_id}, {"$pull": {OUTBOX: {"id": {"$in": ids}}}})
    else:
        await collection.bulk_write(pulls, ordered=False)
