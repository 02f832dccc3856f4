"""The router's own state in MongoDB: recent escalations, for rate limiting."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import utc_now
from baton_runtime import Document, insert_once

from .policy import RecentEscalations


class EscalationLog(Protocol):
    async def recent(
        self, *, user_id: str | None, thread_id: str, window_s: int
    ) -> RecentEscalations: ...

    async def record(self, escalation_id: str, *, user_id: str | None, thread_id: str) -> None:
        """Note an escalation (idempotent: the id derives from the routed event)."""
        ...


class MongoEscalations:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._escalations = db["escalations"]

    async def ensure_indexes(self) -> None:
        await self._escalations.create_index([("user_id", ASCENDING), ("at", ASCENDING)])
        await self._escalations.create_index([("thread_id", ASCENDING), ("at", ASCENDING)])

    async def recent(
        self, *, user_id: str | None, thread_id: str, window_s: int, now: datetime | None = None
    ) -> RecentEscalations:
        since = (now or utc_now()) - timedelta(seconds=window_s)
        by_user = (
            await self._escalations.count_documents({"user_id": user_id, "at": {"$gte": since}})
            if user_id
            else 0
        )
        in_thread = await self._escalations.count_documents(
            {"thread_id": thread_id, "at": {"$gte": since}}
        )
        return RecentEscalations(by_user, in_thread)

    async def record(self, escalation_id: str, *, user_id: str | None, thread_id: str) -> None:
        await insert_once(
            self._escalations,
            {"_id": escalation_id, "user_id": user_id, "thread_id": thread_id, "at": utc_now()},
        )
