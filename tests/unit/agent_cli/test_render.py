"""What ``baton-agent`` prints without ``--json``: durations, the SLA, the queue table and a
ticket with its thread, as the console shows them."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from baton_agent_cli.render import (
    clip,
    duration,
    message_label,
    message_text,
    print_queue,
    print_ticket,
    sla,
    summary,
    waiting,
)

from .conftest import ticket

NOW = datetime(2025, 3, 1, 12, 10, tzinfo=UTC)


def local_clock(iso: str) -> str:
    return f"{datetime.fromisoformat(iso).astimezone():%H:%M:%S}"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(-5, "0s"), (0, "0s"), (59.9, "59s"), (61, "1m 01s"), (3660, "1h 01m"), (90061, "1d 1h")],
)
def test_durations_keep_their_two_largest_units(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_the_sla_counts_down_then_over_and_stops_at_the_first_response() -> None:
    assert sla(ticket(), NOW) == "20m 00s left"
    assert sla(ticket(sla_due_at="2025-03-01T12:05:00+00:00"), NOW) == "overdue 5m 00s"
    # The service's word that it is breached wins over a clock that is a little behind.
    assert sla(ticket(sla_breached=True), NOW) == "overdue 0s"
    assert sla(ticket(first_response_at="2025-03-01T12:01:00+00:00"), NOW) == "met"
    assert sla(ticket(status="resolved"), NOW) == "closed"


def test_a_resolved_ticket_waited_until_it_was_resolved() -> None:
    assert waiting(ticket(), NOW) == "10m 00s"
    assert waiting(ticket(resolved_at="2025-03-01T12:02:00+00:00"), NOW) == "2m 00s"


def test_the_summary_is_what_the_kind_of_ticket_is_about() -> None:
    assert summary(ticket(question="Open\n  on Sunday?")) == "Open on Sunday?"
    assert summary(ticket(kind="approval", draft_text="Refund sent.")) == "Refund sent."
    assert summary(ticket(kind="escalation", suggestion="Offer 10%")) == "Offer 10%"
    assert summary(ticket(kind="conversation", reason="user asked")) == "user asked"
    assert summary(ticket(kind="approval", draft_text=None, reason=None)) == ""
    assert clip("abcdef", 4) == "abc…"
    assert clip("abcd", 4) == "abcd"


def test_the_queue_is_a_table_whose_columns_line_up() -> None:
    out = io.StringIO()
    print_queue(
        [
            ticket(),
            ticket(
                ticket_id="T22",
                kind="conversation",
                status="assigned",
                department=None,
                reason="wants a person",
                assigned_agent={"agent_id": "a1", "name": "Alex", "department": "billing"},
            ),
        ],
        out,
        NOW,
    )
    assert out.getvalue().splitlines() == [
        "ID   KIND          PRI  STATUS    DEPARTMENT  WAITING  SLA           HOLDER  SUMMARY",
        "T1   question      20   pending   billing     10m 00s  20m 00s left  -       Is the Berlin store open on Sunday?",
        "T22  conversation  20   assigned  -           10m 00s  20m 00s left  Alex    wants a person",
    ]


def test_an_empty_queue_says_so() -> None:
    out = io.StringIO()
    print_queue([], out, NOW)
    assert out.getvalue() == "no tickets\n"


def test_messages_are_labelled_by_who_wrote_them_and_who_sees_them() -> None:
    def message(**fields: object) -> dict[str, object]:
        return {"role": "assistant", "content": "Hi", "visible_to_user": True} | fields

    assert message_label(message(role="user")) == "user"
    assert message_label(message(agent_name="Baton")) == "AI Baton"
    assert message_label(message(provider="human", agent_name="Alex")) == "human Alex"
    assert message_label(message(status="pending_approval")) == "AI [draft: pending_approval]"
    assert message_label(message(content=[], visible_to_user=False)) == (
        "AI tool call [not shown to the user]"
    )
    assert message_label(message(role="tool", visible_to_user=False)) == "tool result"
    assert message_label(message(role="tool", human={"name": "Alex"})) == (
        "tool result (answered by Alex)"
    )


def test_tool_traffic_is_shown_as_calls_and_results() -> None:
    content = [
        {"type": "tool-call", "tool_name": "ask_human", "args": {"question": "Sunday?"}},
        {"type": "tool-result", "result": "Yes, 10 to 16."},
    ]
    assert message_text({"content": content}) == "ask_human(question='Sunday?')\nYes, 10 to 16."
    assert message_text({"content": "plain"}) == "plain"


def test_a_ticket_shows_its_facts_what_the_ai_handed_over_and_the_thread() -> None:
    lease = "2025-03-01T12:20:00+00:00"
    said = "2025-03-01T12:00:00+00:00"
    detail = {
        "ticket": ticket(
            status="assigned",
            assigned_agent={"agent_id": "a1", "name": "Alex", "department": "billing"},
            lease_expires_at=lease,
            resolution={"action": "answer", "agent_name": "Alex", "handback": None},
        ),
        "ai": {
            "question": "Is the Berlin store open on Sunday?",
            "context": "Berlin",
            "confidence": 0.4,
            "reason": None,
        },
        "thread": {"owner": "ai", "user_id": "u-7", "channel": "web"},
        "messages": [
            {"role": "user", "content": "Open on Sunday?\nThanks", "created_at": said},
            {"role": "assistant", "content": "", "created_at": said, "visible_to_user": True},
        ],
    }
    out = io.StringIO()
    print_ticket(detail, out, NOW)
    assert out.getvalue().splitlines() == [
        "ticket      T1",
        "kind        question",
        "status      assigned",
        f"held by     Alex (lease until {local_clock(lease)})",
        "priority    20",
        "department  billing",
        "waiting     10m 00s",
        "sla         20m 00s left",
        "thread      th-1 (owner: ai)",
        "user        u-7 via web",
        "resolved    answer by Alex",
        "",
        "from the AI:",
        "  question: Is the Berlin store open on Sunday?",
        "  context: Berlin",
        "  confidence: 0.40",
        "",
        "messages:",
        f"  {local_clock(said)}  user",
        "      Open on Sunday?",
        "      Thanks",
        f"  {local_clock(said)}  AI",
        "      ",
    ]
