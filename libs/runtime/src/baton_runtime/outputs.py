"""What a handler published for each event it handled, so a redelivery repeats it.

Handlers whose work is not deterministic (an LLM call, a decision that reads state the
first run changed) save their output events under the triggering event's id. On
redelivery the saved events are published again if the first publish may not have
completed, and nothing is published if it did: a replay changes nothing and sends nothing
twice.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_contracts import Event, decode, utc_now

from .mongo import Document


@dataclass(frozen=True)
class Handled:
    events: list[Event]
    published: bool


class HandledEvents:
    def __init__(self, db: AsyncDatabase[Document], *, service: str) -> None:
        self._collection = db["handled_events"]
        self._service = service

    def _key(self, event_id: uuid.UUID) -> str:
        return f"{self._service}:{event_id}"

    async def get(self, event_id: uuid.UUID) -> Handled | None:
        doc = await self._collection.find_one({"_id": self._key(event_id)})
        if doc is None:
            return None
        return Handled([decode(raw) for raw in doc["events"]], bool(doc.get("published")))

    async def save(
        self, event_id: uuid.UUID, events: Sequence[Event], *, published: bool = False
    ) -> None:
        # A concurrent redelivery may have saved the same outcome first; either is fine.
        with contextlib.suppress(DuplicateKeyError):
            await self._collection.insert_one(
                {
                    "_id": self._key(event_id),
                    "events": [e.model_dump_json() for e in events],
                    "published": published,
                    "at": utc_now(),
                }
            )

    async def mark_published(self, event_id: uuid.UUID) -> None:
        await self._collection.update_one(
            {"_id": self._key(event_id)}, {"$set": {"published": True}}
        )
