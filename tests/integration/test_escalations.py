"""The escalation budget on the real MongoDB-wire server: counted per user and per thread,
atomically, in fixed windows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from baton_conversations import Conversations, Escalations, EscalationSettings, Thread
from baton_runtime import Document
from tests.support.memory import MemoryPublisher


async def threads_of(db: AsyncDatabase[Document], user: str, count: int) -> list[Thread]:
    core = Conversations(db, MemoryPublisher())
    return [
        await core.open_thread(user_id=user, channel=None, department=None, metadata={})
        for _ in range(count)
    ]


async def test_concurrent_escalations_never_pass_the_limit_together(
    db: AsyncDatabase[Document],
) -> None:
    budget = Escalations(db, EscalationSettings(limit_per_user=5, limit_per_thread=100))
    threads = await threads_of(db, "flooder", 20)
    results = await asyncio.gather(*(budget.take(t) for t in threads))
    refused = [r for r in results if r is not None]
    assert len(refused) == 15
    assert refused[0].reason == "5 for this user in 60 min"


async def test_a_thread_has_its_own_limit_and_a_refusal_counts_nothing(
    db: AsyncDatabase[Document],
) -> None:
    budget = Escalations(db, EscalationSettings(limit_per_user=3, limit_per_thread=1))
    first, second = await threads_of(db, "one-user", 2)
    assert await budget.take(first) is None
    refused = await budget.take(first)
    assert refused is not None
    assert refused.reason == "1 in this thread in 60 min"
    # The refused escalation did not use up the user's budget.
    assert await budget.take(second) is None
    assert await budget.take((await threads_of(db, "one-user", 1))[0]) is None


async def test_a_new_window_starts_afresh_and_old_counters_go(
    db: AsyncDatabase[Document],
) -> None:
    now = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    settings = EscalationSettings(limit_per_user=1, limit_per_thread=5, window_s=3600)
    [thread] = await threads_of(db, "patient", 1)
    earlier = Escalations(db, settings, clock=lambda: now)
    assert await earlier.take(thread) is None
    assert await earlier.take(thread) is not None

    later = Escalations(db, settings, clock=lambda: now + timedelta(hours=1))
    assert await later.take(thread) is None
    assert await later.forget_past() >= 2  # the first window's user and thread counters
