"""Internal notes in MongoDB: the ``ticket_notes`` collection, one document per note."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from baton_runtime import Document, insert_once

from ..notes import Note


class MongoNotes:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._notes = db["ticket_notes"]

    async def ensure_indexes(self) -> None:
        await self._notes.create_index([("ticket_id", ASCENDING), ("created_at", ASCENDING)])
        await self._notes.create_index([("thread_id", ASCENDING), ("created_at", ASCENDING)])

    async def add(self, note: Note) -> Note:
        doc = note.model_dump(exclude={"note_id"})
        if await insert_once(self._notes, {"_id": str(note.note_id), **doc}):
            return note
        stored = await self._notes.find_one({"_id": str(note.note_id)})
        return _note(stored) if stored else note

    async def of_ticket(self, ticket_id: str, *, limit: int) -> list[Note]:
        return await self._latest({"ticket_id": ticket_id}, limit)

    async def of_thread(self, thread_id: str, *, limit: int) -> list[Note]:
        return await self._latest({"thread_id": thread_id}, limit)

    async def _latest(self, query: Document, limit: int) -> list[Note]:
        cursor = self._notes.find(query).sort([("created_at", DESCENDING)]).limit(limit)
        found = [_note(doc) async for doc in cursor]
        return found[::-1]


def _note(doc: Document) -> Note:
    return Note.model_validate(
        {**{k: v for k, v in doc.items() if k != "_id"}, "note_id": doc["_id"]}
    )
