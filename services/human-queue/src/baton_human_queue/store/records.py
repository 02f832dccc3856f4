"""The queue's other collections in MongoDB: ``claims``, ``feedback`` and ``agents``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_runtime import Document, Entry, Outbox, insert_once, merge

from ..domain import Agent
from ..followups import ClaimClosed, ClaimOpened, Feedback
from ..labour import ClaimSpan
from ..ports import AgentChanges, AgentRecord
from ..staffing import AgentState, Policy, Presence, Slot


class MongoClaims:
    """One document per claim (its id), for the labour report."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._claims = db["claims"]

    async def ensure_indexes(self) -> None:
        await self._claims.create_index([("ticket_id", ASCENDING)])

    async def opened(self, claim: ClaimOpened) -> None:
        await insert_once(
            self._claims,
            {
                "_id": claim.claim_id,
                **claim.model_dump(exclude={"claim_id"}),
                "ended_at": None,
                "outcome": None,
            },
        )

    async def closed(self, claim: ClaimClosed) -> None:
        await self._claims.update_one(
            {"_id": claim.claim_id, "ended_at": None},
            {"$set": {"ended_at": claim.ended_at, "outcome": claim.outcome}},
        )

    async def for_tickets(self, ticket_ids: Sequence[str]) -> list[ClaimSpan]:
        if not ticket_ids:
            return []
        cursor = self._claims.find({"ticket_id": {"$in": list(ticket_ids)}}).sort(
            [("claimed_at", ASCENDING)]
        )
        return [
            ClaimSpan(
                claim_id=doc["_id"],
                ticket_id=doc["ticket_id"],
                agent_id=doc["agent_id"],
                agent_name=doc["agent_name"],
                claimed_at=doc["claimed_at"],
                ended_at=doc.get("ended_at"),
                outcome=doc.get("outcome"),
            )
            async for doc in cursor
        ]


class MongoFeedback:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._feedback = db["feedback"]

    async def ensure_indexes(self) -> None:
        await self._feedback.create_index([("at", ASCENDING)])

    async def add(self, feedback: Feedback) -> None:
        doc = feedback.model_dump(mode="json", exclude={"feedback_id", "at"})
        await insert_once(self._feedback, {"_id": feedback.feedback_id, **doc, "at": feedback.at})

    async def since(self, since: datetime | None, *, batch: int = 500) -> list[Feedback]:
        query: Document = {"at": {"$gte": since}} if since else {}
        cursor = self._feedback.find(query).sort([("at", ASCENDING)]).batch_size(batch)
        return [_feedback(doc) async for doc in cursor]


def _feedback(doc: Document) -> Feedback:
    fields = {k: v for k, v in doc.items() if k != "_id"}
    return Feedback.model_validate({**fields, "feedback_id": doc["_id"]})


class MongoAgents:
    """One document per agent: who it is, its token's hash, its role and capacity, its
    presence, and a slot per ticket it holds (decision 18). Presence changes carry their
    ``agent.status_changed`` in the document's outbox."""

    def __init__(self, db: AsyncDatabase[Document], outbox: Outbox | None = None) -> None:
        self._agents = db["agents"]
        self._outbox = outbox

    async def ensure_indexes(self) -> None:
        await self._agents.create_index("token_hash", unique=True)
        await self._agents.create_index([("departments", ASCENDING)])
        await Outbox.ensure_index(self._agents)

    async def add(self, agent: Agent, *, token_hash: str, now: datetime) -> None:
        try:
            await self._agents.insert_one(
                {
                    "_id": agent.agent_id,
                    "name": agent.name,
                    "departments": list(agent.departments),
                    "role": agent.role,
                    "capacity": agent.capacity,
                    "token_hash": token_hash,
                    "active": True,
                    "status": "offline",
                    "idle_away": False,
                    "status_at": now,
                    "slots": [],
                    "created_at": now,
                }
            )
        except DuplicateKeyError as exc:  # a 256-bit token colliding is not a real case
            raise RuntimeError("agent id or token collision; try again") from exc

    async def by_token_hash(self, token_hash: str) -> tuple[AgentState, str] | None:
        doc = await self._agents.find_one(
            {"token_hash": token_hash, "active": True}, projection=WITHOUT_OUTBOX
        )
        return (agent_state(doc), doc["token_hash"]) if doc else None

    async def all(self) -> list[AgentRecord]:
        cursor = self._agents.find({}, projection={"token_hash": 0}).sort([("created_at", 1)])
        return [
            AgentRecord(_agent(doc), active=doc.get("active", True), created_at=doc["created_at"])
            async for doc in cursor
        ]

    async def get(self, agent_id: str) -> AgentState | None:
        doc = await self._agents.find_one({"_id": agent_id}, projection=WITHOUT_OUTBOX)
        return agent_state(doc) if doc else None

    async def states(self, *, department: str | None = None) -> list[AgentState]:
        query: Document = {} if department is None else {"departments": department}
        cursor = self._agents.find(query, projection=WITHOUT_OUTBOX).sort([("created_at", 1)])
        return [agent_state(doc) async for doc in cursor]

    async def change(
        self, agent_id: str, changes: AgentChanges, *, now: datetime, follow_ups: Sequence[Entry]
    ) -> AgentState | None:
        fields: Document = {"updated_at": now}
        if changes.departments is not None:
            fields["departments"] = list(changes.departments)
        if changes.role is not None:
            fields["role"] = changes.role
        if changes.capacity is not None or changes.default_capacity:
            fields["capacity"] = changes.capacity
        if changes.active is not None:
            fields["active"] = changes.active
        if changes.active is False:
            fields |= {"status": "offline", "idle_away": False, "status_at": now}
        return await self._change({"_id": agent_id}, {"$set": fields}, follow_ups)

    async def set_token(self, agent_id: str, token_hash: str, *, now: datetime) -> bool:
        result = await self._agents.update_one(
            {"_id": agent_id}, {"$set": {"token_hash": token_hash, "updated_at": now}}
        )
        return result.matched_count == 1

    async def set_status(
        self,
        agent_id: str,
        *,
        seen: Presence,
        status: Presence,
        idle_away: bool,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> AgentState | None:
        fields: Document = {"status": status, "idle_away": idle_away, "status_at": now}
        if status == "online":
            # Going online is a sign of life: the idle clock starts again.
            fields["last_seen_at"] = now
        return await self._change(
            {"_id": agent_id, "active": True, "status": seen}, {"$set": fields}, follow_ups
        )

    async def touch(self, agent_id: str, *, now: datetime, older_than: datetime) -> None:
        await self._agents.update_one(
            {
                "_id": agent_id,
                "$or": [{"last_seen_at": None}, {"last_seen_at": {"$lte": older_than}}],
            },
            {"$set": {"last_seen_at": now}},
        )

    async def take_slot(
        self,
        agent_id: str,
        slot: Slot,
        *,
        seen_capacity: int | None,
        limit: int,
        online: bool = False,
        assigned: bool = False,
    ) -> bool:
        if limit < 1:
            return False
        # `slots.<limit-1>` missing means fewer than `limit` slots: the count and the
        # addition are one document's write, which MongoDB applies atomically.
        query: Document = {
            "_id": agent_id,
            "active": True,
            "capacity": seen_capacity,
            f"slots.{limit - 1}": {"$exists": False},
            "slots.claim_id": {"$ne": slot.claim_id},
        }
        if online:
            query["status"] = "online"
        update: Document = {
            "$push": {
                "slots": {"claim_id": slot.claim_id, "ticket_id": slot.ticket_id, "at": slot.at}
            }
        }
        if assigned:
            update["$set"] = {"last_assigned_at": slot.at}
        result = await self._agents.update_one(query, update)
        return result.modified_count == 1

    async def free_slot(self, agent_id: str, claim_id: str) -> None:
        await self._agents.update_one(
            {"_id": agent_id}, {"$pull": {"slots": {"claim_id": claim_id}}}
        )

    async def _change(
        self, query: Document, update: Document, follow_ups: Sequence[Entry]
    ) -> AgentState | None:
        if follow_ups:
            assert self._outbox is not None, "presence events need the agents' outbox"
            update = merge(update, self._outbox.push(follow_ups))
        doc = await self._agents.find_one_and_update(
            query, update, projection=WITHOUT_OUTBOX, return_document=ReturnDocument.AFTER
        )
        return agent_state(doc) if doc else None

    async def deliver(self, agent_id: str, follow_ups: Sequence[Entry]) -> None:
        if follow_ups and self._outbox is not None:
            await self._outbox.deliver(self._agents, agent_id, follow_ups)

    async def sweep_follow_ups(self, *, older_than: timedelta) -> int:
        if self._outbox is None:
            return 0
        return await self._outbox.sweep(self._agents, older_than=older_than)


WITHOUT_OUTBOX = {"outbox": 0, "outbox_at": 0}


def _agent(doc: Document) -> Agent:
    return Agent(
        agent_id=doc["_id"],
        name=doc["name"],
        departments=tuple(doc["departments"]),
        role=doc.get("role") or "agent",
        capacity=doc.get("capacity"),
    )


def agent_state(doc: Document) -> AgentState:
    """An agent document as the queue staffs it; agents stored before presence existed
    read as offline with nothing held."""
    return AgentState(
        agent=_agent(doc),
        active=doc.get("active", True),
        status=doc.get("status") or "offline",
        idle_away=bool(doc.get("idle_away")),
        last_seen_at=doc.get("last_seen_at"),
        status_at=doc.get("status_at"),
        slots=tuple(
            Slot(claim_id=s["claim_id"], ticket_id=s["ticket_id"], at=s["at"])
            for s in doc.get("slots") or ()
        ),
        last_assigned_at=doc.get("last_assigned_at"),
        created_at=doc.get("created_at"),
    )


class MongoDepartments:
    """Assignment policies set through the API: one document per department."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._departments = db["departments"]

    async def policies(self) -> dict[str, Policy]:
        return {doc["_id"]: doc["policy"] async for doc in self._departments.find({})}

    async def set_policy(self, department: str, policy: Policy, *, now: datetime) -> None:
        await self._departments.update_one(
            {"_id": department}, {"$set": {"policy": policy, "updated_at": now}}, upsert=True
        )
