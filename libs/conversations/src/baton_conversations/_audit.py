"""Who owned a thread, and when: a projection of ``thread.assigned``.

Every ownership change is announced by the conversation core; this log keeps them, one
document per event (its id: a repeated event is stored once), and answers for a thread
with its changes in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import Event, Owner, ThreadAssigned
from baton_runtime import Document, insert_once


@dataclass(frozen=True)
class Ownership:
    """One change of a thread's owner."""

    at: datetime
    owner: Owner
    previous_owner: Owner | None
    agent_id: str | None
    reason: str
    event_id: str

    @classmethod
    def from_document(cls, doc: Document) -> Ownership:
        return cls(
            at=doc["at"],
            owner=doc["owner"],
            previous_owner=doc.get("previous_owner"),
            agent_id=doc.get("agent_id"),
            reason=doc.get("reason", ""),
            event_id=doc["_id"],
        )


class OwnershipLog:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._log = db["ownership_log"]

    async def ensure_indexes(self) -> None:
        await self._log.create_index([("thread_id", ASCENDING), ("at", ASCENDING)])

    async def record(self, event: ThreadAssigned) -> None:
        await insert_once(
            self._log,
            {
                "_id": str(event.event_id),
                "thread_id": event.thread_id,
                "at": event.occurred_at,
                "owner": event.owner,
                "previous_owner": event.previous_owner,
                "agent_id": event.agent_id,
                "reason": event.reason,
            },
        )

    async def of_thread(self, thread_id: str, *, limit: int = 200) -> list[Ownership]:
        """The thread's ownership changes, oldest first."""
        cursor = self._log.find({"thread_id": thread_id}).sort([("at", ASCENDING)]).limit(limit)
        return [Ownership.from_document(doc) async for doc in cursor]


async def on_thread_assigned(event: ThreadAssigned, *, log: OwnershipLog) -> Sequence[Event]:
    """Keep the change in the ownership log."""
    await log.record(event)
    return ()
