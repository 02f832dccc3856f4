"""Tickets in MongoDB: the ``tickets`` collection.

Every change is one ``find_one_and_update`` whose filter is what the caller saw (status,
claim, lease) and whose update carries the change's follow-ups (the runtime outbox).
MongoDB applies it to the one document atomically, so of racing changes at most one
matches: of fifty concurrent claims, one wins.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import SlaKind, TicketSummary
from baton_runtime import Document, Entry, Outbox, Unreadable, insert_once, merge

from ..ports import Changed, TicketQuery
from ..tickets import (
    OPEN_STATUSES,
    AiNotes,
    Holder,
    Resolution,
    ThreadTicket,
    Ticket,
    read_ticket,
    ticket_document,
)

QUEUE_ORDER = [("priority", DESCENDING), ("created_at", ASCENDING)]
OPEN_THREAD = "open_thread"
"""Present while a conversation or escalation ticket is open: a unique key, so a thread
has at most one such ticket open."""
WITHOUT_OUTBOX = {"outbox": 0, "outbox_at": 0}
UNCLAIMED: Document = {
    "status": "pending",
    "holder": None,
    "claim_id": None,
    "claimed_at": None,
    "lease_expires_at": None,
}
"""A ticket back in the queue."""


class MongoTickets:
    def __init__(self, db: AsyncDatabase[Document], outbox: Outbox) -> None:
        self.collection = db["tickets"]
        self._outbox = outbox
        self._unreadable = Unreadable(reader="queue sweep", kind="ticket")
        self._unreadable_in_reports = Unreadable(reader="labour report", kind="ticket")

    async def ensure_indexes(self) -> None:
        tickets = self.collection
        await tickets.create_index(
            [("status", ASCENDING), ("priority", DESCENDING), ("created_at", ASCENDING)]
        )
        await tickets.create_index(OPEN_THREAD, unique=True, sparse=True)
        await tickets.create_index([("thread_id", ASCENDING), ("created_at", ASCENDING)])
        await tickets.create_index([("status", ASCENDING), ("lease_expires_at", ASCENDING)])
        await tickets.create_index([("status", ASCENDING), ("sla_due_at", ASCENDING)])
        await tickets.create_index(
            [("status", ASCENDING), ("expires_at", ASCENDING)],
            partialFilterExpression={"expires_at": {"$exists": True}},
        )
        for clock in ("next_response_due_at", "resolution_due_at"):
            await tickets.create_index(
                [("status", ASCENDING), (clock, ASCENDING)],
                partialFilterExpression={clock: {"$exists": True}},
            )
        # The recent waits for a first claim, per department (the hand-off notice's estimate).
        await tickets.create_index(
            [("department", ASCENDING), ("first_claimed_at", DESCENDING)],
            partialFilterExpression={"first_claimed_at": {"$exists": True}},
        )
        await tickets.create_index([("created_at", ASCENDING)])
        await tickets.create_index([("resolved_at", ASCENDING)])
        await Outbox.ensure_index(tickets)

    # ------------------------------------------------------------ reading

    async def add(self, ticket: Ticket, *, follow_ups: Sequence[Entry] = ()) -> bool:
        doc = ticket_document(ticket) | self._outbox.fields(follow_ups)
        if isinstance(ticket, ThreadTicket) and ticket.status != "resolved":
            doc[OPEN_THREAD] = ticket.thread_id
        return await insert_once(self.collection, doc)

    async def get(self, ticket_id: str) -> Ticket | None:
        doc = await self.collection.find_one({"_id": ticket_id}, projection=WITHOUT_OUTBOX)
        return read_ticket(doc) if doc else None

    async def open_for_thread(self, thread_id: str) -> Ticket | None:
        doc = await self.collection.find_one({OPEN_THREAD: thread_id}, projection=WITHOUT_OUTBOX)
        return read_ticket(doc) if doc else None

    async def search(self, query: TicketQuery) -> list[Ticket]:
        found: Document = {"status": {"$in": list(query.statuses)}}
        if query.departments is not None:
            found["$or"] = [{"department": {"$in": list(query.departments)}}, {"department": None}]
        if query.department is not None:
            found["department"] = query.department
        if query.kind is not None:
            found["kind"] = query.kind
        if query.thread_id is not None:
            found["thread_id"] = query.thread_id
        cursor = (
            self.collection.find(found, projection=WITHOUT_OUTBOX)
            .sort(QUEUE_ORDER)
            .limit(query.limit)
        )
        return [read_ticket(doc) async for doc in cursor]

    async def lapsed(self, now: datetime, *, limit: int) -> list[Ticket]:
        return await self._sweep_round(
            {"status": "assigned", "lease_expires_at": {"$lte": now}}, limit
        )

    async def sla_due(
        self, now: datetime, *, limit: int, sla: SlaKind = "first_response"
    ) -> list[Ticket]:
        return await self._sweep_round(_breach_due(sla, now), limit)

    async def ahead_of(self, ticket: Ticket, *, limit: int) -> int:
        return await self.collection.count_documents(
            {
                "status": "pending",
                "department": ticket.department,
                "_id": {"$ne": ticket.ticket_id},
                "$or": [
                    {"priority": {"$gt": ticket.priority}},
                    {"priority": ticket.priority, "created_at": {"$lte": ticket.created_at}},
                ],
            },
            limit=limit,
        )

    async def claim_waits(
        self, department: str | None, *, since: datetime, limit: int
    ) -> list[tuple[datetime, datetime]]:
        cursor = (
            self.collection.find(
                {"department": department, "first_claimed_at": {"$gte": since}},
                projection={"created_at": 1, "first_claimed_at": 1},
            )
            .sort([("first_claimed_at", DESCENDING)])
            .limit(limit)
        )
        return [(doc["created_at"], doc["first_claimed_at"]) async for doc in cursor]

    async def expiring(self, now: datetime, *, limit: int) -> list[Ticket]:
        return await self._sweep_round(
            {"status": {"$in": list(OPEN_STATUSES)}, "expires_at": {"$lte": now}}, limit
        )

    async def _sweep_round(self, query: Document, limit: int) -> list[Ticket]:
        # Unreadable documents met before stay where they are: they take no room of the
        # tickets behind them (and are reported once, see Unreadable).
        cursor = self.collection.find(query, projection=WITHOUT_OUTBOX).limit(
            limit + self._unreadable.count
        )
        return self._unreadable.parse(await cursor.to_list(), read_ticket)

    async def created_between(
        self, since: datetime, until: datetime, *, limit: int = 10_000
    ) -> list[Ticket]:
        cursor = (
            self.collection.find(
                {"created_at": {"$gte": since, "$lt": until}}, projection=WITHOUT_OUTBOX
            )
            .sort([("created_at", ASCENDING)])
            .limit(limit)
        )
        return self._unreadable_in_reports.parse(await cursor.to_list(), read_ticket)

    async def open_summary(self) -> list[Document]:
        """Status, kind, department and creation time of every open ticket."""
        cursor = self.collection.find(
            {"status": {"$in": list(OPEN_STATUSES)}},
            projection={"status": 1, "kind": 1, "department": 1, "created_at": 1},
        )
        return await cursor.to_list()

    async def resolved_since(self, since: datetime) -> list[Document]:
        """The ``resolution`` of each ticket resolved since ``since``: who resolved it."""
        cursor = self.collection.find(
            {"resolved_at": {"$gte": since}}, projection={"resolution.agent_id": 1}
        )
        return [doc["resolution"] async for doc in cursor if doc.get("resolution")]

    # ------------------------------------------------------------ changing

    async def attach(
        self,
        ticket_id: str,
        message_id: uuid.UUID,
        *,
        notes: AiNotes,
        now: datetime,
        next_response_due: datetime | None = None,
    ) -> Ticket | None:
        update: Document = {
            "$addToSet": {"message_ids": str(message_id)},
            "$set": {**notes.model_dump(exclude_none=True), "updated_at": now},
        }
        if next_response_due is not None:
            # The wait starts with its first message: a later one keeps the earlier due time.
            update["$min"] = {"next_response_due_at": next_response_due}
        doc = await self.collection.find_one_and_update(
            {"_id": ticket_id, "status": {"$in": list(OPEN_STATUSES)}},
            update,
            projection=WITHOUT_OUTBOX,
            return_document=ReturnDocument.AFTER,
        )
        return read_ticket(doc) if doc else None

    async def claim(
        self,
        ticket_id: str,
        *,
        seen_claim_id: str | None,
        holder: Holder,
        claim_id: str,
        until: datetime,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        return await self._change(
            {
                "_id": ticket_id,
                "claim_id": seen_claim_id,
                "$or": [
                    {"status": "pending"},
                    {"status": "assigned", "lease_expires_at": {"$lte": now}},
                ],
            },
            {
                "$set": {
                    "status": "assigned",
                    "holder": holder.model_dump(exclude_none=True),
                    "claim_id": claim_id,
                    "claimed_at": now,
                    "lease_expires_at": until,
                    "updated_at": now,
                },
                "$min": {"first_claimed_at": now},
            },
            follow_ups,
        )

    async def renew(
        self, ticket_id: str, *, claim_id: str, until: datetime, now: datetime
    ) -> Ticket | None:
        doc = await self.collection.find_one_and_update(
            _live_claim(ticket_id, claim_id, now),
            {"$set": {"lease_expires_at": until, "updated_at": now}},
            projection=WITHOUT_OUTBOX,
            return_document=ReturnDocument.AFTER,
        )
        return read_ticket(doc) if doc else None

    async def reassign(
        self,
        ticket_id: str,
        *,
        seen_claim_id: str,
        holder: Holder,
        claim_id: str,
        until: datetime,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        return await self._change(
            {"_id": ticket_id, "status": "assigned", "claim_id": seen_claim_id},
            {
                "$set": {
                    "holder": holder.model_dump(exclude_none=True),
                    "claim_id": claim_id,
                    "claimed_at": now,
                    "lease_expires_at": until,
                    "updated_at": now,
                },
            },
            follow_ups,
        )

    async def transfer(
        self,
        ticket_id: str,
        *,
        seen_claim_id: str | None,
        department: str | None,
        priority: int,
        holder: Holder | None,
        claim_id: str | None,
        until: datetime | None,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        taken: Document = (
            {
                "status": "assigned",
                "holder": holder.model_dump(exclude_none=True),
                "claim_id": claim_id,
                "claimed_at": now,
                "lease_expires_at": until,
            }
            if holder is not None
            else UNCLAIMED
        )
        update: Document = {
            "$set": {**taken, "department": department, "priority": priority, "updated_at": now}
        }
        if holder is not None:
            update["$min"] = {"first_claimed_at": now}
        return await self._change(
            {
                "_id": ticket_id,
                "status": {"$in": list(OPEN_STATUSES)},
                "claim_id": seen_claim_id,
            },
            update,
            follow_ups,
        )

    async def release(
        self, ticket_id: str, *, claim_id: str, now: datetime, follow_ups: Sequence[Entry]
    ) -> Changed | None:
        return await self._change(
            {"_id": ticket_id, "status": "assigned", "claim_id": claim_id},
            {"$set": {**UNCLAIMED, "updated_at": now}},
            follow_ups,
        )

    async def reply(
        self,
        ticket_id: str,
        *,
        claim_id: str,
        reply_id: uuid.UUID,
        until: datetime,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        return await self._change(
            {**_live_claim(ticket_id, claim_id, now), "replies": {"$ne": str(reply_id)}},
            {
                "$set": {"lease_expires_at": until, "updated_at": now},
                "$min": {"first_response_at": now},
                "$addToSet": {"replies": str(reply_id)},
                # The user's wait for a next response, if any, is over.
                "$unset": {"next_response_due_at": "", "next_response_breached_at": ""},
            },
            follow_ups,
        )

    async def resolve(
        self,
        ticket_id: str,
        *,
        claim_id: str,
        resolution: Resolution,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        return await self._change(
            _live_claim(ticket_id, claim_id, now),
            {
                "$set": {
                    "status": "resolved",
                    "resolved_at": now,
                    "resolution": resolution.model_dump(exclude_none=True),
                    "lease_expires_at": None,
                    "updated_at": now,
                },
                "$min": {"first_response_at": now},
                "$unset": {OPEN_THREAD: ""},
            },
            follow_ups,
        )

    async def expire(
        self, ticket_id: str, *, claim_id: str, now: datetime, follow_ups: Sequence[Entry]
    ) -> Changed | None:
        return await self._change(
            {
                "_id": ticket_id,
                "status": "assigned",
                "claim_id": claim_id,
                "lease_expires_at": {"$lte": now},
            },
            {"$set": {**UNCLAIMED, "updated_at": now}},
            follow_ups,
        )

    async def flag_sla_breach(
        self,
        ticket_id: str,
        *,
        now: datetime,
        follow_ups: Sequence[Entry],
        sla: SlaKind = "first_response",
        seen: Ticket | None = None,
        raise_by: int = 0,
    ) -> Changed | None:
        query: Document = {"_id": ticket_id, **_breach_due(sla, now)}
        flags: dict[SlaKind, Document] = {
            "first_response": {"sla_breached": True, "sla_breached_at": now},
            "next_response": {"next_response_breached_at": now},
            "resolution": {"resolution_breached_at": now},
        }
        flagged = flags[sla]
        update: Document = {"$set": {**flagged, "updated_at": now}}
        if seen is not None:
            # The wait seen (not a later one), and the priority the event announces raised.
            if sla == "next_response":
                query["next_response_due_at"] = seen.next_response_due_at
            if raise_by:
                query["priority"] = seen.priority
        if raise_by:
            update["$inc"] = {"priority": raise_by, "priority_raised": raise_by}
        return await self._change(query, update, follow_ups)

    async def close_expired(
        self, ticket_id: str, *, now: datetime, reason: str, follow_ups: Sequence[Entry]
    ) -> Changed | None:
        # Of an answer and the expiry racing, the first write wins: the answer's needs the
        # ticket assigned, this one needs it open; whichever comes second matches nothing.
        return await self._change(
            {
                "_id": ticket_id,
                "status": {"$in": list(OPEN_STATUSES)},
                "expires_at": {"$lte": now},
            },
            {
                "$set": {
                    "status": "resolved",
                    "resolved_at": now,
                    "expired_at": now,
                    "expiry_reason": reason,
                    "lease_expires_at": None,
                    "updated_at": now,
                },
                "$unset": {OPEN_THREAD: ""},
            },
            follow_ups,
        )

    async def summarize(
        self, ticket_id: str, *, thread_id: str, summary: TicketSummary, now: datetime
    ) -> Ticket | None:
        doc = await self.collection.find_one_and_update(
            {"_id": ticket_id, "thread_id": thread_id, "summary": None},
            {
                "$set": {
                    "summary": summary.model_dump(),
                    "summarized_at": now,
                    "updated_at": now,
                }
            },
            projection=WITHOUT_OUTBOX,
            return_document=ReturnDocument.AFTER,
        )
        return read_ticket(doc) if doc else None

    async def _change(
        self, query: Document, update: Document, follow_ups: Sequence[Entry]
    ) -> Changed | None:
        doc = await self.collection.find_one_and_update(
            query,
            merge(update, self._outbox.push(follow_ups)),
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        waiting = [Entry.from_document(e) for e in doc.get("outbox") or ()]
        return Changed(read_ticket(doc), waiting)

    # ------------------------------------------------------------ follow-ups

    async def deliver(self, ticket_id: str, follow_ups: Sequence[Entry]) -> None:
        await self._outbox.deliver(self.collection, ticket_id, follow_ups)

    async def sweep_follow_ups(self, *, older_than: timedelta) -> int:
        return await self._outbox.sweep(self.collection, older_than=older_than)


def _breach_due(sla: SlaKind, now: datetime) -> Document:
    """Open tickets whose clock ``sla`` ran out by ``now`` and is not flagged (the rule of
    :func:`~baton_human_queue.domain.breach_due`)."""
    open_ticket: Document = {"status": {"$in": list(OPEN_STATUSES)}}
    if sla == "first_response":
        return {
            **open_ticket,
            "sla_breached": False,
            "first_response_at": None,
            "sla_due_at": {"$lte": now},
        }
    if sla == "next_response":
        return {
            **open_ticket,
            "first_response_at": {"$ne": None},
            "next_response_breached_at": None,
            "next_response_due_at": {"$lte": now},
        }
    return {**open_ticket, "resolution_breached_at": None, "resolution_due_at": {"$lte": now}}


def _live_claim(ticket_id: str, claim_id: str, now: datetime) -> Document:
    """The ticket as its holder saw it: assigned under ``claim_id``, the lease running."""
    return {
        "_id": ticket_id,
        "status": "assigned",
        "claim_id": claim_id,
        "lease_expires_at": {"$gt": now},
    }
