"""`baton-agent show`: the AI's summary is the first thing of a ticket, and a question's
time to answer (or its expiry) is among its facts."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from baton_agent_cli.render import print_ticket

from .conftest import ticket

NOW = datetime(2025, 3, 1, 12, 10, tzinfo=UTC)


def shown(**fields: object) -> list[str]:
    detail = {
        "ticket": ticket(**fields),
        "ai": {"question": "Is the Berlin store open on Sunday?", "reason": None},
        "thread": {"owner": "ai", "user_id": "u-7", "channel": "web"},
        "messages": [],
    }
    out = io.StringIO()
    print_ticket(detail, out, NOW)
    return out.getvalue().splitlines()


def test_the_summary_comes_first() -> None:
    lines = shown(
        summary={
            "written_by": "ai",
            "issue": "Wants to know the Sunday hours in Berlin.",
            "tried": "",
            "mood": "neutral",
        },
        expires_at="2025-03-01T12:30:00+00:00",
        fallback="human",
    )
    assert lines[:6] == [
        "summary (by the AI, from the customer's words; check it against the thread):",
        "  issue: Wants to know the Sunday hours in Berlin.",
        "  tried: nothing yet",
        "  mood: neutral",
        "",
        "ticket      T1",
    ]
    assert "answer in   20m 00s (then human takes over)" in lines


def test_a_ticket_without_a_summary_starts_with_its_facts() -> None:
    lines = shown(
        status="resolved",
        expires_at="2025-03-01T12:05:00+00:00",
        expired_at="2025-03-01T12:05:01+00:00",
        expiry_reason="nobody answered within 5 min",
        fallback="ai",
    )
    assert lines[0] == "ticket      T1"
    assert "expired     nobody answered within 5 min; the AI went on" in lines
