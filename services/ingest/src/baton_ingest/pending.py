"""Ingest's outbox: user messages between being noted and being announced.

Before ingest stores a user message it notes the message here, together with its
``message.received`` event; once Kafka has acknowledged the event, the note goes. A note
therefore outlives its submission only when that stopped in between (a crash, a lost
connection), and the recovery sweep finishes what the submission started: it stores the
message if that had not happened, publishes the event, and removes the note. A note is
removed only after its event is out, so "no note" means "announced".

The collection holds the notes in flight and nothing else, so the sweep reads a handful of
documents however long the history grows. A ``published`` flag on every message would
make it scan the whole ``messages`` collection: an index on such a flag helps MongoDB only,
since mongo-java-server looks up nothing but equality on unique indexes (FerretDB v1 only on
``_id``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_contracts import MessageReceived, utc_now
from baton_runtime import Document, Grouped, GroupedWrites, Unreadable, find_by_ids, insert_each
from baton_runtime._mongo import delete_each
from baton_runtime.history import Message


@dataclass(frozen=True)
class Note:
    """A message and its event, noted before the message was stored."""

    message: Message
    event: MessageReceived
    at: datetime
    source: str
    """Where the submission came from: ``http`` or ``kafka``."""

    def to_document(self) -> Document:
        return {
            "_id": str(self.message.message_id),
            "message": self.message.to_document(),
            "event": self.event.model_dump_json(),
            "at": self.at,
            "source": self.source,
        }

    @classmethod
    def from_document(cls, doc: Document) -> Note:
        return cls(
            message=Message.from_document(doc["message"]),
            event=MessageReceived.model_validate_json(doc["event"]),
            at=doc["at"],
            source=doc.get("source", "http"),
        )


class PendingMessages:
    """The ``pending_messages`` collection. Concurrent submissions share their inserts and
    deletes: under load one command carries many notes, and a lone one goes at once."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._notes = db["pending_messages"]
        self._inserts: Grouped[Document, None] = Grouped(
            lambda docs: insert_each(self._notes, docs)
        )
        self._deletes: GroupedWrites[str] = GroupedWrites(lambda ids: delete_each(self._notes, ids))
        self._unreadable = Unreadable(reader="recovery sweep", kind="note")

    async def note(self, message: Message, event: MessageReceived, *, source: str) -> Note | None:
        """Note ``message``, submitted over ``source``. If a note of it exists already, that
        of an earlier attempt which has not finished, it is left as it is and returned."""
        note = Note(message, event, utc_now(), source)
        try:
            await self._inserts.submit(note.to_document())
        except DuplicateKeyError:
            [earlier] = await find_by_ids(self._notes, [str(message.message_id)])
            # None: the earlier attempt has announced the message since.
            return Note.from_document(earlier) if earlier is not None else None
        return None

    async def remove(self, message_id: uuid.UUID) -> None:
        await self._deletes.submit(str(message_id))

    async def older_than(self, before: datetime, *, limit: int) -> list[Note]:
        """The oldest readable notes taken at ``before`` or earlier (to the millisecond: the
        resolution of a stored time)."""
        # Notes met before that it cannot read (left for a person) do not take up the
        # limit, and one that has been mended since is read again.
        cursor = (
            self._notes.find({"at": {"$lte": before}})
            .sort([("at", ASCENDING)])
            .limit(limit + self._unreadable.count)
        )
        # A note the sweep cannot read would otherwise stop it for every note behind it.
        return self._unreadable.parse(await cursor.to_list(), Note.from_document)[:limit]
