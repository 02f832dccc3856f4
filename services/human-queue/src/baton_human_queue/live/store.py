"""The live console in MongoDB: reading ticket changes, and the ``stream_tickets``
collection (owned here)."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from baton_runtime import Document

from ..domain import Agent
from ..tickets import OPEN_STATUSES
from .access import StoredStreamTicket
from .hub import TicketChange

CHANGE_FIELDS = {
    "thread_id": 1,
    "kind": 1,
    "status": 1,
    "department": 1,
    "holder.agent_id": 1,
    "created_at": 1,
    "updated_at": 1,
}
USED_TICKETS_KEPT_S = 3600
"""How long a stream ticket's record outlives its expiry, so a reused one is told apart from
one never issued; MongoDB's TTL monitor removes it after that."""


class MongoTicketChanges:
    """Reads ``tickets`` (written only by the queue's ticket store) by ``updated_at``."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db["tickets"]

    async def ensure_indexes(self) -> None:
        # The feed's read: a range of updated_at, every instance, a few times a second.
        await self._tickets.create_index([("updated_at", ASCENDING)])

    async def changed_since(self, since: datetime, *, limit: int) -> list[TicketChange]:
        cursor = (
            self._tickets.find({"updated_at": {"$gte": since}}, projection=CHANGE_FIELDS)
            .sort([("updated_at", ASCENDING)])
            .limit(limit)
        )
        return [_change(doc) async for doc in cursor]

    async def newest(self) -> datetime | None:
        doc = await self._tickets.find_one(
            {}, projection={"updated_at": 1}, sort=[("updated_at", DESCENDING)]
        )
        return doc["updated_at"] if doc else None

    async def open_versions(self, agent: Agent, *, limit: int) -> dict[str, datetime] | None:
        query: Document = {"status": {"$in": list(OPEN_STATUSES)}}
        departments = agent.visible_departments
        if departments is not None:
            query["$or"] = [
                {"department": {"$in": list(departments)}},
                {"department": None},
                {"holder.agent_id": agent.agent_id},
            ]
        cursor = self._tickets.find(query, projection={"updated_at": 1}).limit(limit + 1)
        docs = await cursor.to_list()
        if len(docs) > limit:
            return None
        return {doc["_id"]: doc["updated_at"] for doc in docs}


def _change(doc: Document) -> TicketChange:
    holder = doc.get("holder") or {}
    return TicketChange(
        ticket_id=doc["_id"],
        thread_id=doc["thread_id"],
        kind=doc["kind"],
        status=doc["status"],
        department=doc.get("department"),
        holder_id=holder.get("agent_id"),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


class MongoStreamTickets:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db["stream_tickets"]

    async def ensure_indexes(self) -> None:
        await self._tickets.create_index("expires_at", expireAfterSeconds=USED_TICKETS_KEPT_S)

    async def add(self, ticket_hash: str, ticket: StoredStreamTicket, *, now: datetime) -> None:
        await self._tickets.insert_one(
            {
                "_id": ticket_hash,
                "agent_id": ticket.agent_id,
                "token_hash": ticket.token_hash,
                "expires_at": ticket.expires_at,
                "created_at": now,
                "used_at": None,
            }
        )

    async def use(self, ticket_hash: str, *, now: datetime) -> StoredStreamTicket | None:
        # One conditional write: of two instances redeeming the same ticket, one wins.
        doc = await self._tickets.find_one_and_update(
            {"_id": ticket_hash, "used_at": None},
            {"$set": {"used_at": now}},
            return_document=ReturnDocument.BEFORE,
        )
        if doc is None:
            return None
        return StoredStreamTicket(
            agent_id=doc["agent_id"], token_hash=doc["token_hash"], expires_at=doc["expires_at"]
        )

    async def known(self, ticket_hash: str) -> bool:
        return await self._tickets.find_one({"_id": ticket_hash}, projection={"_id": 1}) is not None
