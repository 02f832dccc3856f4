"""The queue's rules without I/O: priorities, SLAs, claims, leases, who may do what."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton_human_queue.domain import (
    DEFAULT_SLA_S,
    Agent,
    AlreadyClaimedError,
    InvalidTextError,
    LeaseExpiredError,
    NotHolderError,
    PriorityRules,
    WrongDepartmentError,
    WrongKindError,
    WrongStateError,
    approved_text,
    check_holder,
    check_kind,
    check_releaser,
    check_text,
    check_visible,
    claim_verdict,
    lease_until,
    repeated_resolution,
    sla_breach_due,
    sla_seconds,
)
from baton_human_queue.tickets import (
    Holder,
    Resolution,
    Ticket,
    read_ticket,
    ticket_document,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALEX = Agent("agent-alex", "Alex", ("billing",))
SAM = Agent("agent-sam", "Sam", ("billing", "support"))
BO = Agent("agent-bo", "Bo", ("shipping",))


def ticket(**changes: Any) -> Ticket:
    """A pending conversation ticket of department billing, unless ``changes`` say else."""
    fields: dict[str, Any] = {
        "ticket_id": str(uuid.uuid4()),
        "kind": "conversation",
        "priority": 0,
        "department": "billing",
        "thread_id": "thread-1",
        "user_message_id": uuid.uuid4(),
        "reason": "the user asked for a person",
        "source_event_id": uuid.uuid4(),
        "correlation_id": uuid.uuid4(),
        "sla_due_at": NOW + timedelta(hours=1),
        "created_at": NOW - timedelta(minutes=5),
        "updated_at": NOW,
    }
    if changes.get("kind") == "approval":
        fields["draft_message_id"] = uuid.uuid4()
    return read_ticket({**fields, **changes})


def held_by(
    agent: Agent, *, lease_left: timedelta = timedelta(minutes=5), **changes: Any
) -> Ticket:
    fields: dict[str, Any] = {
        "status": "assigned",
        "holder": Holder(agent_id=agent.agent_id, name=agent.name, department="billing"),
        "claim_id": "claim-1",
        "claimed_at": NOW - timedelta(minutes=5),
        "lease_expires_at": NOW + lease_left,
    }
    return ticket(**{**fields, **changes})


def test_a_ticket_is_its_document_and_back() -> None:
    subject = held_by(ALEX, message_ids=(uuid.uuid4(),))
    doc = ticket_document(subject)
    assert doc["_id"] == subject.ticket_id
    assert isinstance(doc["user_message_id"], str)
    assert "first_response_at" not in doc  # set once, with $min
    assert read_ticket(doc) == subject


def test_a_document_of_no_known_kind_is_no_ticket() -> None:
    doc = ticket_document(ticket())
    with pytest.raises(ValueError, match="kind"):
        read_ticket({**doc, "kind": "chat"})
    with pytest.raises(ValueError, match="draft_message_id"):
        read_ticket({**doc, "kind": "approval"})


# ---------------------------------------------------------------- priority and SLA


def test_default_priorities_put_vip_and_approvals_first() -> None:
    rules = PriorityRules()
    order = sorted(
        [
            ("conversation", None),
            ("escalation", None),
            ("question", None),
            ("approval", None),
            ("conversation", "VIP"),
        ],
        key=lambda kt: -rules.priority(kt[0], tier=kt[1], department=None),  # type: ignore[arg-type]
    )
    assert order == [
        ("conversation", "VIP"),
        ("approval", None),
        ("question", None),
        ("escalation", None),
        ("conversation", None),
    ]


def test_priority_rules_add_up_and_are_configurable() -> None:
    rules = PriorityRules(
        by_kind={"question": 5}, by_tier={"gold": 7}, by_department={"Legal": 100}
    )
    assert rules.priority("question", tier="GOLD", department="legal") == 112
    assert rules.priority("approval", tier=None, department=None) == 0


def test_priority_rules_refuse_unknown_fields() -> None:
    with pytest.raises(ValueError, match="by_colour"):
        PriorityRules.model_validate({"by_colour": {"red": 1}})


@pytest.mark.parametrize(
    ("priority", "seconds"),
    [(-5, 3600.0), (0, 3600.0), (19, 3600.0), (20, 900.0), (49, 900.0), (50, 300.0), (999, 300.0)],
)
def test_sla_is_the_entry_for_the_highest_threshold_reached(priority: int, seconds: float) -> None:
    assert sla_seconds(priority, DEFAULT_SLA_S) == seconds


def test_sla_breach_is_due_once_and_only_without_a_response() -> None:
    due = ticket(sla_due_at=NOW - timedelta(seconds=1))
    assert sla_breach_due(due, NOW)
    assert not sla_breach_due(ticket(sla_due_at=NOW + timedelta(seconds=1)), NOW)
    assert not sla_breach_due(due.model_copy(update={"sla_breached": True}), NOW)
    assert not sla_breach_due(
        due.model_copy(update={"first_response_at": NOW - timedelta(minutes=1)}), NOW
    )
    assert not sla_breach_due(due.model_copy(update={"status": "resolved"}), NOW)
    assert sla_breach_due(due.model_copy(update={"status": "assigned"}), NOW)


# ---------------------------------------------------------------- claims and leases


def test_a_pending_ticket_can_be_claimed() -> None:
    assert claim_verdict(ALEX, ticket(), NOW) == "claim"


def test_a_held_ticket_is_refused_naming_the_holder() -> None:
    with pytest.raises(AlreadyClaimedError, match="claimed by Alex"):
        claim_verdict(SAM, held_by(ALEX), NOW)


def test_the_holder_claiming_again_renews() -> None:
    assert claim_verdict(ALEX, held_by(ALEX), NOW) == "renew"


def test_a_lapsed_claim_can_be_taken_over() -> None:
    lapsed = held_by(ALEX, lease_left=timedelta(0))
    assert claim_verdict(SAM, lapsed, NOW) == "claim"
    assert claim_verdict(ALEX, lapsed, NOW) == "claim"


def test_a_resolved_ticket_cannot_be_claimed() -> None:
    with pytest.raises(WrongStateError, match="resolved"):
        claim_verdict(ALEX, ticket(status="resolved"), NOW)


def test_the_lease_runs_from_the_last_activity() -> None:
    assert lease_until(NOW, 600) == NOW + timedelta(minutes=10)


def test_only_the_holder_with_a_live_lease_may_act() -> None:
    holder, claim_id = check_holder(ALEX, held_by(ALEX), NOW)
    assert (holder.agent_id, claim_id) == (ALEX.agent_id, "claim-1")
    with pytest.raises(NotHolderError, match="claim it first"):
        check_holder(ALEX, ticket(), NOW)
    with pytest.raises(NotHolderError, match="claimed by Alex"):
        check_holder(SAM, held_by(ALEX), NOW)
    with pytest.raises(LeaseExpiredError, match="claim it again"):
        check_holder(ALEX, held_by(ALEX, lease_left=timedelta(seconds=-1)), NOW)
    with pytest.raises(WrongStateError):
        check_holder(ALEX, held_by(ALEX, status="resolved"), NOW)


# ---------------------------------------------------------------- visibility and kinds


def test_agents_see_their_departments_and_tickets_without_one() -> None:
    check_visible(ALEX, ticket())
    check_visible(BO, ticket(department=None))
    with pytest.raises(WrongDepartmentError, match="does not serve"):
        check_visible(BO, ticket())


@pytest.mark.parametrize(
    ("kind", "allowed"),
    [
        ("conversation", {"reply", "resolve"}),
        ("escalation", {"reply", "resolve"}),
        ("question", {"answer"}),
        ("approval", {"approve", "reject"}),
    ],
)
def test_each_kind_of_ticket_has_its_actions(kind: str, allowed: set[str]) -> None:
    for action in ("reply", "resolve", "answer", "approve", "reject"):
        subject = ticket(kind=kind)
        if action in allowed:
            check_kind(subject, action)
        else:
            with pytest.raises(WrongKindError):
                check_kind(subject, action)


def test_a_repeated_resolution_is_recognised_only_for_the_same_agent_and_action() -> None:
    done = ticket(
        kind="question",
        status="resolved",
        resolution=Resolution(action="answer", agent_id=ALEX.agent_id, agent_name="Alex", at=NOW),
    )
    assert repeated_resolution(ALEX, done, "answer")
    assert not repeated_resolution(SAM, done, "answer")
    assert not repeated_resolution(ALEX, done.model_copy(update={"status": "assigned"}), "answer")


# ---------------------------------------------------------------- texts


def test_text_must_have_content_within_the_limit() -> None:
    assert check_text("ok", max_length=2) == "ok"
    with pytest.raises(InvalidTextError, match="empty"):
        check_text(" \n ", max_length=10)
    with pytest.raises(InvalidTextError, match="the limit is 2"):
        check_text("abc", max_length=2)


@pytest.mark.parametrize(
    "text", ["a\x00b", "bell\x07", "esc\x1b[2J", "del\x7f", "c1\x85", "x\ud800"]
)
def test_text_holds_no_control_characters_nor_lone_surrogates(text: str) -> None:
    with pytest.raises(InvalidTextError, match="control characters"):
        check_text(text, max_length=100)


def test_tabs_line_breaks_and_any_real_character_are_text() -> None:
    text = "Line one\r\nline\ttwo\n\u00e9\u200d\U0001f44d\ufffd"
    assert check_text(text, max_length=100) == text


def test_approval_sends_the_draft_or_the_edit() -> None:
    assert approved_text("Draft.", None) == ("Draft.", False)
    assert approved_text("Draft.", "Draft.") == ("Draft.", False)
    assert approved_text("Draft.", "Better draft.") == ("Better draft.", True)
    with pytest.raises(InvalidTextError):
        approved_text(None, None)


def test_the_holder_gives_back_its_claim_even_once_it_lapsed() -> None:
    assert check_releaser(ALEX, held_by(ALEX), NOW) == "claim-1"
    assert check_releaser(ALEX, held_by(ALEX, lease_left=timedelta(seconds=-1)), NOW) == "claim-1"
    with pytest.raises(NotHolderError, match="claimed by Alex"):
        check_releaser(SAM, held_by(ALEX, lease_left=timedelta(seconds=-1)), NOW)
    with pytest.raises(NotHolderError, match="claim it first"):
        check_releaser(ALEX, ticket(), NOW)
