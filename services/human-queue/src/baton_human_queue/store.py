"""The queue's MongoDB collections: ``tickets``, ``claims``, ``feedback``, ``agents`` and
``ticket_locks``.

A ticket changes state through a ``find_one_and_update`` whose filter states what the
caller saw (status, claim, lease). On MongoDB that alone makes racing changes exclusive.
FerretDB v1 evaluates the filter and writes the whole document back in two steps, so two
racing updates can both apply, or one can overwrite the other; every change to a ticket
therefore also holds the ticket's lock (:class:`TicketLocks`), which rests on the one
operation both servers make exclusive: inserting a document whose ``_id`` exists fails.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_contracts import TicketKind, TicketStatus, utc_now
from baton_runtime import Document, insert_once

from .domain import OPEN_STATUSES, Agent, QueueError
from .effects import ClaimClosed, ClaimOpened, Effect, Feedback

QUEUE_ORDER = [("priority", DESCENDING), ("created_at", ASCENDING)]


def ticket_document(
    *,
    ticket_id: str,
    kind: TicketKind,
    priority: int,
    department: str | None,
    thread_id: str,
    user_tier: str | None,
    user_message_id: uuid.UUID,
    source_event_id: uuid.UUID,
    correlation_id: uuid.UUID,
    sla_due_at: datetime,
    now: datetime,
    opens_thread: bool,
    **details: Any,
) -> Document:
    """A new pending ticket. ``details`` are the request's fields (question, reason, ...)."""
    doc: Document = {
        "_id": ticket_id,
        "kind": kind,
        "status": "pending",
        "priority": priority,
        "department": department,
        "thread_id": thread_id,
        "user_tier": user_tier,
        "user_message_id": str(user_message_id),
        "message_ids": [str(user_message_id)],
        "source_event_id": str(source_event_id),
        "correlation_id": str(correlation_id),
        "holder": None,
        "claim_id": None,
        "claimed_at": None,
        "lease_expires_at": None,
        # first_claimed_at and first_response_at stay absent until set with $min, which
        # would keep an explicit null (null sorts below every date).
        "sla_due_at": sla_due_at,
        "sla_breached": False,
        "replies": [],
        "resolution": None,
        "outbox": [],
        "created_at": now,
        "updated_at": now,
        "resolved_at": None,
        **{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in details.items()},
    }
    if opens_thread:
        # Unique while present: at most one open conversation ticket per thread.
        doc["open_thread"] = thread_id
    return doc


def _effects(effects: Sequence[Effect], now: datetime) -> Document:
    return {
        "$push": {"outbox": {"$each": [e.to_document() for e in effects]}},
        "$set": {"outbox_at": now},
    }


def _merge(*updates: Document) -> Document:
    merged: Document = {}
    for update in updates:
        for operator, fields in update.items():
            merged.setdefault(operator, {}).update(fields)
    return merged


class TicketStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tickets = db["tickets"]

    async def ensure_indexes(self) -> None:
        await self.tickets.create_index(
            [("status", ASCENDING), ("priority", DESCENDING), ("created_at", ASCENDING)]
        )
        await self.tickets.create_index("open_thread", unique=True, sparse=True)
        await self.tickets.create_index([("thread_id", ASCENDING), ("created_at", ASCENDING)])
        await self.tickets.create_index([("status", ASCENDING), ("lease_expires_at", ASCENDING)])
        await self.tickets.create_index([("status", ASCENDING), ("sla_due_at", ASCENDING)])
        await self.tickets.create_index([("created_at", ASCENDING)])
        await self.tickets.create_index([("resolved_at", ASCENDING)])

    async def insert(self, doc: Document) -> bool:
        """False when the ticket exists (a replay) or its thread has an open ticket."""
        return await insert_once(self.tickets, doc)

    async def get(self, ticket_id: str) -> Document | None:
        return await self.tickets.find_one({"_id": ticket_id})

    async def open_for_thread(self, thread_id: str) -> Document | None:
        return await self.tickets.find_one({"open_thread": thread_id})

    async def attach(
        self, ticket_id: str, message_id: uuid.UUID, *, now: datetime, details: Document
    ) -> Document | None:
        """Add a user message to an open ticket (idempotent: a set, not a list)."""
        return await self.tickets.find_one_and_update(
            {"_id": ticket_id, "status": {"$in": list(OPEN_STATUSES)}},
            {
                "$addToSet": {"message_ids": str(message_id)},
                "$set": {"updated_at": now, **details},
            },
            return_document=ReturnDocument.AFTER,
        )

    async def search(
        self,
        *,
        statuses: Sequence[TicketStatus],
        departments: Sequence[str] | None,
        department: str | None = None,
        kind: TicketKind | None = None,
        thread_id: str | None = None,
        limit: int = 50,
    ) -> list[Document]:
        """Tickets in queue order; with ``departments``, only those departments' tickets
        and tickets without a department."""
        query: Document = {"status": {"$in": list(statuses)}}
        if departments is not None:
            query["$or"] = [{"department": {"$in": list(departments)}}, {"department": None}]
        if department is not None:
            query["department"] = department
        if kind is not None:
            query["kind"] = kind
        if thread_id is not None:
            query["thread_id"] = thread_id
        cursor = self.tickets.find(query, projection={"outbox": 0}).sort(QUEUE_ORDER).limit(limit)
        return [doc async for doc in cursor]

    async def claim(
        self,
        ticket_id: str,
        *,
        previous_claim_id: str | None,
        now: datetime,
        fields: Document,
        effects: Sequence[Effect],
    ) -> Document | None:
        """Take a pending ticket, or one whose lease ran out, unless someone else did first."""
        return await self.tickets.find_one_and_update(
            {
                "_id": ticket_id,
                "claim_id": previous_claim_id,
                "$or": [
                    {"status": "pending"},
                    {"status": "assigned", "lease_expires_at": {"$lte": now}},
                ],
            },
            _merge(
                {
                    "$set": {**fields, "status": "assigned", "updated_at": now},
                    "$min": {"first_claimed_at": now},
                },
                _effects(effects, now),
            ),
            return_document=ReturnDocument.AFTER,
        )

    async def renew(
        self, ticket_id: str, *, claim_id: str, now: datetime, until: datetime
    ) -> Document | None:
        return await self.tickets.find_one_and_update(
            {
                "_id": ticket_id,
                "status": "assigned",
                "claim_id": claim_id,
                "lease_expires_at": {"$gt": now},
            },
            {"$set": {"lease_expires_at": until, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )

    async def change_held(
        self,
        ticket_id: str,
        *,
        claim_id: str,
        now: datetime,
        fields: Document,
        effects: Sequence[Effect],
        live_lease: bool = True,
        responds: bool = False,
        closes: bool = False,
        reply_id: uuid.UUID | None = None,
    ) -> Document | None:
        """Change a ticket on behalf of its holder, as long as the claim still stands.

        ``responds`` marks the first human response (the SLA clock stops); ``closes``
        frees the thread for a new conversation ticket; ``reply_id`` is recorded once,
        so a retried reply is recognised.
        """
        query: Document = {"_id": ticket_id, "status": "assigned", "claim_id": claim_id}
        if live_lease:
            query["lease_expires_at"] = {"$gt": now}
        update: Document = {"$set": {**fields, "updated_at": now}}
        if responds:
            update["$min"] = {"first_response_at": now}
        if closes:
            update["$unset"] = {"open_thread": ""}
        if reply_id is not None:
            query["replies"] = {"$ne": str(reply_id)}
            update["$addToSet"] = {"replies": str(reply_id)}
        return await self.tickets.find_one_and_update(
            query, _merge(update, _effects(effects, now)), return_document=ReturnDocument.AFTER
        )

    async def expire(
        self, ticket_id: str, *, claim_id: str, now: datetime, effects: Sequence[Effect]
    ) -> Document | None:
        return await self.tickets.find_one_and_update(
            {
                "_id": ticket_id,
                "status": "assigned",
                "claim_id": claim_id,
                "lease_expires_at": {"$lte": now},
            },
            _merge({"$set": {**UNCLAIMED, "updated_at": now}}, _effects(effects, now)),
            return_document=ReturnDocument.AFTER,
        )

    async def flag_sla_breach(
        self, ticket_id: str, *, now: datetime, effects: Sequence[Effect]
    ) -> Document | None:
        return await self.tickets.find_one_and_update(
            {
                "_id": ticket_id,
                "status": {"$in": list(OPEN_STATUSES)},
                "sla_breached": False,
                "first_response_at": None,
            },
            _merge(
                {"$set": {"sla_breached": True, "sla_breached_at": now, "updated_at": now}},
                _effects(effects, now),
            ),
            return_document=ReturnDocument.AFTER,
        )

    async def done(self, ticket_id: str, entries: Sequence[Document]) -> None:
        """Remove carried-out outbox entries (matched exactly; FerretDB v1 ignores
        conditional ``$pull``)."""
        await self.tickets.update_one({"_id": ticket_id}, {"$pullAll": {"outbox": list(entries)}})

    async def expired_leases(self, now: datetime, *, limit: int) -> list[Document]:
        cursor = self.tickets.find(
            {"status": "assigned", "lease_expires_at": {"$lte": now}}, limit=limit
        )
        return [doc async for doc in cursor]

    async def sla_due(self, now: datetime, *, limit: int) -> list[Document]:
        cursor = self.tickets.find(
            {
                "status": {"$in": list(OPEN_STATUSES)},
                "sla_breached": False,
                "first_response_at": None,
                "sla_due_at": {"$lte": now},
            },
            limit=limit,
        )
        return [doc async for doc in cursor]

    async def unsent(self, before: datetime, *, limit: int) -> list[Document]:
        """Tickets whose outbox has entries older than ``before``."""
        cursor = self.tickets.find(
            {"outbox.0": {"$exists": True}, "outbox_at": {"$lt": before}}, limit=limit
        )
        return [doc async for doc in cursor]

    async def open_summary(self) -> list[Document]:
        """Status, kind, department and creation time of every open ticket, for the
        queue gauges."""
        cursor = self.tickets.find(
            {"status": {"$in": list(OPEN_STATUSES)}},
            projection={"status": 1, "kind": 1, "department": 1, "created_at": 1},
        )
        return [doc async for doc in cursor]

    async def resolved_since(self, since: datetime) -> list[Document]:
        """Who resolved each ticket resolved since ``since`` (``resolution`` documents),
        for the agent throughput gauge."""
        cursor = self.tickets.find({"resolved_at": {"$gte": since}}, projection={"resolution": 1})
        return [doc["resolution"] async for doc in cursor if doc.get("resolution")]

    async def created_between(
        self, since: datetime, until: datetime, *, limit: int = 10_000
    ) -> list[Document]:
        cursor = (
            self.tickets.find(
                {"created_at": {"$gte": since, "$lt": until}}, projection={"outbox": 0}
            )
            .sort([("created_at", ASCENDING)])
            .limit(limit)
        )
        return [doc async for doc in cursor]


UNCLAIMED: Document = {
    "status": "pending",
    "holder": None,
    "claim_id": None,
    "claimed_at": None,
    "lease_expires_at": None,
}
"""The fields of a ticket back in the queue."""


class ClaimLog:
    """One document per claim, for the labour report."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.claims = db["claims"]

    async def ensure_indexes(self) -> None:
        await self.claims.create_index([("ticket_id", ASCENDING)])

    async def opened(self, claim: ClaimOpened) -> None:
        await insert_once(
            self.claims,
            {
                "_id": claim.claim_id,
                **claim.model_dump(exclude={"claim_id"}),
                "ended_at": None,
                "outcome": None,
            },
        )

    async def closed(self, claim: ClaimClosed) -> None:
        await self.claims.update_one(
            {"_id": claim.claim_id, "ended_at": None},
            {"$set": {"ended_at": claim.ended_at, "outcome": claim.outcome}},
        )

    async def for_tickets(self, ticket_ids: Sequence[str]) -> list[Document]:
        if not ticket_ids:
            return []
        cursor = self.claims.find({"ticket_id": {"$in": list(ticket_ids)}}).sort(
            [("claimed_at", ASCENDING)]
        )
        return [doc async for doc in cursor]


class FeedbackStore:
    """People's corrections of AI output: approvals (edited or not), rejections, answers."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.feedback = db["feedback"]

    async def ensure_indexes(self) -> None:
        await self.feedback.create_index([("at", ASCENDING)])

    async def add(self, feedback: Feedback) -> None:
        await insert_once(self.feedback, feedback.to_document())

    async def all(self, *, since: datetime | None = None, batch: int = 500) -> list[Document]:
        query: Document = {"at": {"$gte": since}} if since else {}
        cursor = self.feedback.find(query).sort([("at", ASCENDING)]).batch_size(batch)
        return [doc async for doc in cursor]


class AgentStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.agents = db["agents"]

    async def ensure_indexes(self) -> None:
        await self.agents.create_index("token_hash", unique=True)

    async def add(self, agent: Agent, *, token_hash: str, now: datetime) -> None:
        try:
            await self.agents.insert_one(
                {
                    "_id": agent.agent_id,
                    "name": agent.name,
                    "departments": list(agent.departments),
                    "token_hash": token_hash,
                    "active": True,
                    "created_at": now,
                }
            )
        except DuplicateKeyError as exc:  # a 256-bit token colliding is not a real case
            raise RuntimeError("agent id or token collision; try again") from exc

    async def by_token_hash(self, token_hash: str) -> tuple[Agent, str] | None:
        doc = await self.agents.find_one({"token_hash": token_hash, "active": True})
        return (_agent(doc), doc["token_hash"]) if doc else None

    async def all(self) -> list[Document]:
        cursor = self.agents.find({}, projection={"token_hash": 0}).sort([("created_at", 1)])
        return [doc async for doc in cursor]


def _agent(doc: Document) -> Agent:
    return Agent(agent_id=doc["_id"], name=doc["name"], departments=tuple(doc["departments"]))


class TicketBusyError(QueueError):
    status = 503
    code = "ticket_busy"


class TicketLocks:
    """One writer per ticket at a time.

    A lock is a document with the ticket's id: inserting it takes the lock, deleting it
    gives it back. A holder that died leaves a lock behind; after ``ttl_s`` the next
    writer deletes it and takes over. Critical sections only read and write MongoDB, far
    below ``ttl_s``; slow follow-ups (Kafka) run outside them.

    Waiters poll with reads, which FerretDB serves side by side, and only try to insert
    when the lock looks free: a crowd of failing inserts would queue behind the one
    SQLite writer and slow the holder down.
    """

    def __init__(
        self, db: AsyncDatabase[Document], *, ttl_s: float = 15.0, wait_s: float = 10.0
    ) -> None:
        self.locks = db["ticket_locks"]
        self._ttl = timedelta(seconds=ttl_s)
        self._wait_s = wait_s

    @asynccontextmanager
    async def hold(
        self, ticket_id: str, *, while_waiting: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncIterator[None]:
        """Hold the ticket's lock. ``while_waiting`` runs between polls; it may raise to
        stop waiting (e.g. a claimer who sees that someone else got the ticket)."""
        token = await self._acquire(ticket_id, while_waiting)
        try:
            yield
        finally:
            await self.locks.delete_one({"_id": ticket_id, "token": token})

    async def _acquire(
        self, ticket_id: str, while_waiting: Callable[[], Awaitable[None]] | None
    ) -> str:
        token = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait_s
        while True:
            now = utc_now()
            held = await self.locks.find_one({"_id": ticket_id})
            if held is not None and held["expires_at"] <= now:
                await self.locks.delete_one({"_id": ticket_id, "token": held["token"]})
                held = None
            if held is None:
                try:
                    await self.locks.insert_one(
                        {"_id": ticket_id, "token": token, "expires_at": now + self._ttl}
                    )
                    return token
                except DuplicateKeyError:
                    pass
            if while_waiting is not None:
                await while_waiting()
            if loop.time() > deadline:
                raise TicketBusyError(f"ticket {ticket_id} is busy; try again")
            await asyncio.sleep(random.uniform(0.01, 0.03))  # noqa: S311 - jitter
