"""The events a consumer has handled, each with what handling it produced.

Handlers whose work is not deterministic (a model call, a decision that reads state the
first run changed) must not run twice for one event. So, before a handler's events are
published, they are saved under the handled event's id, as that document's outbox
(:mod:`baton_runtime._outbox`); publishing them takes them off. A redelivered event finds
its document: its events are published if they still wait there, and nothing happens if
they do not. A replay changes nothing and sends nothing twice.

Concurrent records share their lookups and saves: under load one command carries many.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_contracts import Event, utc_now

from ._grouped import Grouped
from ._mongo import Document, find_by_ids, insert_each
from ._outbox import OUTBOX, Entry, Outbox, events_of, publishing


@dataclass(frozen=True)
class Handled:
    """What handling an event produced, and what of it still waits to be published."""

    events: list[Event]
    waiting: list[Entry]


class HandledLog(Protocol):
    """The log a runner keeps of the events it handled (:class:`HandledEvents` in MongoDB)."""

    async def get(self, event_id: uuid.UUID) -> Handled | None: ...

    async def save(self, event_id: uuid.UUID, events: Sequence[Event]) -> list[Entry]: ...

    async def deliver(self, event_id: uuid.UUID, entries: Sequence[Entry]) -> None: ...


class HandledEvents:
    def __init__(self, db: AsyncDatabase[Document], *, service: str, outbox: Outbox) -> None:
        self._log = db["handled_events"]
        self._service = service
        self._outbox = outbox
        self._reads: Grouped[str, Document | None] = Grouped(
            lambda ids: find_by_ids(self._log, ids)
        )
        self._saves: Grouped[Document, None] = Grouped(lambda docs: insert_each(self._log, docs))

    def _key(self, event_id: uuid.UUID) -> str:
        return f"{self._service}:{event_id}"

    async def get(self, event_id: uuid.UUID) -> Handled | None:
        """What handling ``event_id`` produced; None if it was never handled."""
        doc = await self._reads.submit(self._key(event_id))
        if doc is None:
            return None
        waiting = [Entry.from_document(e) for e in doc.get(OUTBOX) or ()]
        return Handled(events_of(waiting), waiting)

    async def save(self, event_id: uuid.UUID, events: Sequence[Event]) -> list[Entry]:
        """Record ``event_id`` as handled, with ``events`` waiting to be published; returns
        the entries to deliver. A concurrent save of the same event (a redelivery racing
        the first run) wins, and its entries come back instead."""
        entries = [publishing(event) for event in events]
        doc = {"_id": self._key(event_id), "at": utc_now(), **self._outbox.fields(entries)}
        try:
            await self._saves.submit(doc)
        except DuplicateKeyError:
            earlier = await self.get(event_id)
            return earlier.waiting if earlier is not None else []
        return entries

    async def deliver(self, event_id: uuid.UUID, entries: Sequence[Entry]) -> None:
        """Publish ``entries`` and take them off ``event_id``'s record."""
        await self._outbox.deliver(self._log, self._key(event_id), entries)
