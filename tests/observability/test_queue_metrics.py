"""The queue gauges keep their label sets bounded: departments only when agents serve them,
agents only as the busiest few."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from baton_human_queue import metrics
from baton_human_queue.metrics import (
    OpenTicket,
    busiest_agents,
    department_label,
    labelled_departments,
    oldest_pending,
    open_tickets,
    queue_depth,
)

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def ticket(status: str, kind: str, department: str | None, age_s: float = 0) -> OpenTicket:
    return OpenTicket(status, kind, department, NOW - timedelta(seconds=age_s))


def test_a_department_no_agent_serves_counts_as_other() -> None:
    labelled = labelled_departments(["billing", "support"])
    assert department_label("billing", labelled) == "billing"
    assert department_label("made-up-by-a-gateway", labelled) == "other"
    assert department_label(None, labelled) == "none"


def test_departments_are_capped() -> None:
    many = [f"d{i:03}" for i in range(metrics.MAX_DEPARTMENTS + 20)]
    labelled = labelled_departments(many)
    assert len(labelled) == metrics.MAX_DEPARTMENTS
    assert department_label(many[-1], labelled) == "other"


def test_queue_depth_has_every_status_kind_and_department_at_zero_or_more() -> None:
    labelled = labelled_departments(["billing"])
    depth = queue_depth(
        [
            ticket("pending", "question", "billing"),
            ticket("pending", "question", "billing"),
            ticket("assigned", "conversation", "nowhere"),
            ticket("pending", "approval", None),
        ],
        labelled,
    )
    assert depth[("pending", "question", "billing")] == 2
    assert depth[("assigned", "conversation", "other")] == 1
    assert depth[("pending", "approval", "none")] == 1
    assert depth[("assigned", "escalation", "billing")] == 0
    assert len(depth) == 2 * 5 * 3  # statuses x kinds x (billing, none, other)


def test_oldest_pending_ignores_claimed_tickets() -> None:
    ages = oldest_pending(
        [
            ticket("pending", "question", None, age_s=30),
            ticket("pending", "question", None, age_s=90),
            ticket("assigned", "question", None, age_s=900),
        ],
        NOW,
    )
    assert ages["question"] == 90
    assert ages["approval"] == 0


def test_only_the_busiest_agents_get_a_series() -> None:
    resolvers = [f"a{i}" for i in range(15) for _ in range(i + 1)]
    busiest = busiest_agents(resolvers, top=3)
    assert busiest == {"a14": 15, "a13": 14, "a12": 13, "other": sum(range(1, 13))}
    assert busiest_agents([]) == {"other": 0}


def test_a_document_that_is_no_ticket_is_left_out_of_the_gauges() -> None:
    docs: list[dict[str, Any]] = [
        {"_id": "t1", "status": "pending", "kind": "question", "created_at": NOW},
        {"_id": "broken", "status": "assigned"},
        {
            "_id": "t2",
            "status": "assigned",
            "kind": "approval",
            "department": "billing",
            "created_at": NOW,
        },
    ]

    assert open_tickets(docs) == [
        OpenTicket("pending", "question", None, NOW),
        OpenTicket("assigned", "approval", "billing", NOW),
    ]
