"""The router's MongoDB state: recent escalations, for rate limiting."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_contracts import utc_now
from baton_runtime import Document


class RouterStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._escalations = db["escalations"]

    async def ensure_indexes(self) -> None:
        await self._escalations.create_index([("user_id", ASCENDING), ("at", ASCENDING)])
        await self._escalations.create_index([("thread_id", ASCENDING), ("at", ASCENDING)])

    async def recent_escalations(
        self, *, user_id: str | None, thread_id: str, window_s: int, now: datetime | None = None
    ) -> tuple[int, int]:
        since = (now or utc_now()) - timedelta(seconds=window_s)
        by_user = (
            await self._escalations.count_documents({"user_id": user_id, "at": {"$gte": since}})
            if user_id
            else 0
        )
        in_thread = await self._escalations.count_documents(
            {"thread_id": thread_id, "at": {"$gte": since}}
        )
        return by_user, in_thread

    async def record_escalation(
        self, escalation_id: str, *, user_id: str | None, thread_id: str
    ) -> None:
        with contextlib.suppress(DuplicateKeyError):
            await self._escalations.insert_one(
                {"_id": escalation_id, "user_id": user_id, "thread_id": thread_id, "at": utc_now()}
            )
