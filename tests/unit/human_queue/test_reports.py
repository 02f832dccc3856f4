"""The admin's reports from the queue's use cases: labour, and feedback on AI output."""

from __future__ import annotations

from datetime import timedelta

from .conftest import ALEX, NOW, SAM, Queue


async def test_the_labour_report_follows_each_claim(queue: Queue) -> None:
    claimed = await queue.claimed()
    queue.clock.advance(minutes=11)
    await queue.sweep()
    await queue.claims.claim(SAM, claimed.ticket_id)
    queue.clock.advance(minutes=2)
    await queue.holder.resolve(SAM, claimed.ticket_id, "ai")

    report = await queue.reports.labour(NOW - timedelta(hours=1), queue.clock())

    [row] = report.tickets
    assert [(c.agent_name, c.outcome) for c in row.claims] == [
        ("Alex", "expired"),
        ("Sam", "resolved"),
    ]
    assert (row.time_to_claim_ms, row.resolved_by) == (0, SAM.agent_id)
    assert row.handling_ms == (10 + 2) * 60_000
    assert {a.agent_name: a.resolved for a in report.agents} == {"Alex": 0, "Sam": 1}


async def test_feedback_is_exported_oldest_first_and_from_a_time(queue: Queue) -> None:
    first = await queue.claimed("question")
    await queue.holder.answer(ALEX, first.ticket_id, "Yes.")
    queue.clock.advance(minutes=1)
    second = await queue.claimed("approval")
    await queue.holder.reject(ALEX, second.ticket_id, "Too casual")

    assert [f.kind for f in await queue.reports.feedback()] == ["answer", "rejection"]
    assert [f.kind for f in await queue.reports.feedback(queue.clock())] == ["rejection"]
