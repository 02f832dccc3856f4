"""What a handler published for each event it handled, so a redelivery repeats it.

Handlers whose work is not deterministic (an LLM call, a decision that reads state the
first run changed) save their output events under the triggering event's id. On
redelivery the saved events are published again if the first publish may not have
completed, and nothing is published if it did: a replay changes nothing and sends nothing
twice.

The log is read and written a batch of records at a time (one command each for the
lookup, the save and the mark), so its cost per event shrinks as the load grows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import Event, decode, utc_now

from .mongo import Document, insert_many_once, set_each


@dataclass(frozen=True)
class Handled:
    events: list[Event]
    published: bool


@dataclass(frozen=True)
class Outcome:
    """A handled event's output, to be saved under the event's id."""

    event_id: uuid.UUID
    events: Sequence[Event]
    published: bool = False


class HandledEvents:
    def __init__(self, db: AsyncDatabase[Document], *, service: str) -> None:
        self._collection = db["handled_events"]
        self._service = service

    def _key(self, event_id: uuid.UUID) -> str:
        return f"{self._service}:{event_id}"

    async def get_many(self, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Handled]:
        """The saved outcomes among ``event_ids``; events never handled are absent."""
        if not event_ids:
            return {}
        ids = {self._key(event_id): event_id for event_id in event_ids}
        found: dict[uuid.UUID, Handled] = {}
        async for doc in self._collection.find({"_id": {"$in": list(ids)}}):
            found[ids[doc["_id"]]] = Handled(
                [decode(raw) for raw in doc["events"]], bool(doc.get("published"))
            )
        return found

    async def save_many(self, outcomes: Sequence[Outcome]) -> None:
        at = utc_now()
        # A concurrent redelivery may have saved the same outcome first; either is fine.
        await insert_many_once(
            self._collection,
            [
                {
                    "_id": self._key(outcome.event_id),
                    "events": [e.model_dump_json() for e in outcome.events],
                    "published": outcome.published,
                    "at": at,
                }
                for outcome in outcomes
            ],
        )

    async def mark_published(self, event_ids: Iterable[uuid.UUID]) -> None:
        await set_each(
            self._collection, [self._key(event_id) for event_id in event_ids], {"published": True}
        )
