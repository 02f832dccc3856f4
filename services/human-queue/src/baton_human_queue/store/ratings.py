"""The users' ratings in MongoDB: ``ratings``, one document per ``thread.rated``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from baton_runtime import Document, insert_once

from ..satisfaction import Rating


class MongoRatings:
    """Each rating under its event's id, so a redelivered ``thread.rated`` is kept once."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._ratings = db["ratings"]

    async def ensure_indexes(self) -> None:
        await self._ratings.create_index([("rated_at", ASCENDING)])
        await self._ratings.create_index([("ticket_id", ASCENDING)])

    async def add(self, rating: Rating) -> bool:
        doc = rating.model_dump(exclude={"rating_id"})
        return await insert_once(self._ratings, {"_id": rating.rating_id, **doc})

    async def between(self, since: datetime, until: datetime) -> list[Rating]:
        cursor = self._ratings.find({"rated_at": {"$gte": since, "$lt": until}}).sort(
            [("rated_at", ASCENDING)]
        )
        return [_rating(doc) async for doc in cursor]

    async def for_tickets(self, ticket_ids: Sequence[str]) -> list[Rating]:
        if not ticket_ids:
            return []
        cursor = self._ratings.find({"ticket_id": {"$in": list(ticket_ids)}})
        return [_rating(doc) async for doc in cursor]


def _rating(doc: Document) -> Rating:
    fields = {k: v for k, v in doc.items() if k != "_id"}
    return Rating.model_validate({**fields, "rating_id": doc["_id"]})
