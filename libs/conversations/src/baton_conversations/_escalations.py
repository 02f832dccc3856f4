"""How often a conversation may be handed to people: per user and per thread, in a window.

Every path to a person takes from the same budget: the router's rules and classifier, and
the AI's questions, its escalate tool and its low-confidence hand-offs. The counts belong to
the thread's user (as the thread was created), not to what a message claims, and taking from
them is atomic: a counter document per user (and per thread) and window, incremented only
while it is below the limit, so concurrent escalations can never pass it together.

Windows are fixed (``window_s`` long, aligned to the epoch): a user gets ``limit_per_user``
escalations in each. Counters of windows that are over are dropped (:meth:`Escalations.forget_past`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_contracts import utc_now
from baton_runtime import Document

from ._model import Thread


class EscalationSettings(BaseSettings):
    """Escalation limits (``ESCALATION_*``), shared by every service that hands work to
    people."""

    model_config = SettingsConfigDict(env_prefix="ESCALATION_", extra="ignore")

    limit_per_user: int = Field(
        default=5, ge=0, description="Escalations of one user's threads in a window."
    )
    limit_per_thread: int = Field(default=3, ge=0, description="Escalations of one thread.")
    window_s: int = Field(default=3600, ge=1, description="The window's length in seconds.")


@dataclass(frozen=True)
class Refused:
    """An escalation past a limit: which one, in a sentence."""

    reason: str


class EscalationBudget(Protocol):
    async def take(self, thread: Thread) -> Refused | None:
        """Count one escalation of ``thread``; :class:`Refused` (and nothing counted) when a
        limit is reached."""
        ...


def _window(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


class Escalations:
    """The budget in MongoDB: one counter document per user or thread and window."""

    def __init__(
        self,
        db: AsyncDatabase[Document],
        settings: EscalationSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._counters = db["escalation_counters"]
        self._settings = settings
        self._now = clock

    async def ensure_indexes(self) -> None:
        await self._counters.create_index([("until", ASCENDING)])

    async def take(self, thread: Thread) -> Refused | None:
        settings = self._settings
        window = int(self._now().timestamp()) // settings.window_s
        until = datetime.fromtimestamp((window + 1) * settings.window_s, tz=self._now().tzinfo)
        user = f"user:{thread.user_id}:{window}" if thread.user_id else None
        if user is not None and not await self._take(user, settings.limit_per_user, until):
            return Refused(
                f"{settings.limit_per_user} for this user in {_window(settings.window_s)}"
            )
        if not await self._take(
            f"thread:{thread.thread_id}:{window}", settings.limit_per_thread, until
        ):
            if user is not None:
                await self._counters.update_one({"_id": user}, {"$inc": {"count": -1}})
            return Refused(
                f"{settings.limit_per_thread} in this thread in {_window(settings.window_s)}"
            )
        return None

    async def forget_past(self) -> int:
        """Drop the counters of windows that are over; how many went."""
        result = await self._counters.delete_many({"until": {"$lt": self._now()}})
        return result.deleted_count

    async def _take(self, key: str, limit: int, until: datetime) -> bool:
        if limit <= 0:
            return False
        try:
            await self._counters.find_one_and_update(
                {"_id": key, "count": {"$lt": limit}},
                {"$inc": {"count": 1}, "$setOnInsert": {"until": until}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            # The counter exists and is at its limit: the upsert's insert found it.
            return False
        return True
