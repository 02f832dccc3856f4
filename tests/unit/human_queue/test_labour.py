"""The labour report: waits and handling times per ticket and per agent."""

from __future__ import annotations

from datetime import timedelta

from baton_human_queue.labour import ClaimSpan, labour_report
from baton_human_queue.tickets import Resolution

from .test_domain import NOW, ticket

T0 = NOW - timedelta(hours=1)


def span(
    ticket_id: str, agent: str, start_s: int, end_s: int | None, outcome: str | None
) -> ClaimSpan:
    return ClaimSpan(
        claim_id=f"{ticket_id}-{agent}-{start_s}",
        ticket_id=ticket_id,
        agent_id=f"id-{agent}",
        agent_name=agent,
        claimed_at=T0 + timedelta(seconds=start_s),
        ended_at=T0 + timedelta(seconds=end_s) if end_s is not None else None,
        outcome=outcome,
    )


def test_waits_and_handling_times_per_ticket_and_agent() -> None:
    handed_on = ticket(
        created_at=T0,
        first_claimed_at=T0 + timedelta(seconds=30),
        first_response_at=T0 + timedelta(seconds=200),
        status="resolved",
        resolved_at=T0 + timedelta(seconds=400),
        resolution=Resolution(
            action="resolve", agent_id="id-Bo", agent_name="Bo", at=T0 + timedelta(seconds=400)
        ),
    )
    open_one = ticket(created_at=T0 + timedelta(seconds=100), status="assigned")
    spans = [
        span(handed_on.ticket_id, "Alex", 30, 90, "expired"),
        span(handed_on.ticket_id, "Bo", 100, 400, "resolved"),
        span(open_one.ticket_id, "Alex", 160, None, None),
    ]
    report = labour_report(
        [handed_on, open_one], spans, since=T0, until=NOW, now=T0 + timedelta(seconds=260)
    )

    first, second = report.tickets
    assert (first.time_to_claim_ms, first.time_to_first_response_ms) == (30_000, 200_000)
    assert first.handling_ms == 60_000 + 300_000
    assert [(c.agent_name, c.outcome, c.handling_ms) for c in first.claims] == [
        ("Alex", "expired", 60_000),
        ("Bo", "resolved", 300_000),
    ]
    assert first.resolved_by == "id-Bo"
    assert second.time_to_claim_ms == 60_000  # from its claims when first_claimed_at is unset
    assert second.handling_ms == 100_000  # an open claim counts until now

    by_agent = {a.agent_name: a for a in report.agents}
    assert (by_agent["Alex"].claims, by_agent["Alex"].tickets, by_agent["Alex"].resolved) == (
        2,
        2,
        0,
    )
    assert by_agent["Alex"].handling_ms_total == 160_000
    assert by_agent["Alex"].time_to_claim_ms_avg == 45_000  # first to claim both: 30 s, 60 s
    assert (by_agent["Bo"].resolved, by_agent["Bo"].time_to_claim_ms_avg) == (1, None)
    assert [a.agent_name for a in report.agents] == ["Bo", "Alex"]  # most handling time first


def test_an_unclaimed_ticket_has_no_wait_yet() -> None:
    report = labour_report([ticket()], [], since=T0, until=NOW, now=NOW)
    [row] = report.tickets
    assert (row.time_to_claim_ms, row.handling_ms, row.claims) == (None, 0, [])
    assert report.agents == []
