"""The queue's other collections in MongoDB: ``claims``, ``feedback`` and ``agents``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_runtime import Document, insert_once

from ..domain import Agent
from ..followups import ClaimClosed, ClaimOpened, Feedback
from ..labour import ClaimSpan
from ..ports import AgentRecord


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
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._agents = db["agents"]

    async def ensure_indexes(self) -> None:
        await self._agents.create_index("token_hash", unique=True)

    async def add(self, agent: Agent, *, token_hash: str, now: datetime) -> None:
        try:
            await self._agents.insert_one(
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
        doc = await self._agents.find_one({"token_hash": token_hash, "active": True})
        return (_agent(doc), doc["token_hash"]) if doc else None

    async def all(self) -> list[AgentRecord]:
        cursor = self._agents.find({}, projection={"token_hash": 0}).sort([("created_at", 1)])
        return [
            AgentRecord(_agent(doc), active=doc.get("active", True), created_at=doc["created_at"])
            async for doc in cursor
        ]


def _agent(doc: Document) -> Agent:
    return Agent(agent_id=doc["_id"], name=doc["name"], departments=tuple(doc["departments"]))
