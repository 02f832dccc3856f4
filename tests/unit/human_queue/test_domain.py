"""The queue's rules without I/O: priorities, SLAs, claims, leases, who may do what."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton_contracts import derive_id
from baton_human_queue.domain import (
    DEFAULT_SLA_S,
    Agent,
    AlreadyClaimedError,
    Holder,
    InvalidTextError,
    LeaseExpiredError,
    NotHolderError,
    PriorityRules,
    Resolution,
    Ticket,
    WrongDepartmentError,
    WrongKindError,
    WrongStateError,
    answer_event,
    approved_text,
    check_holder,
    check_kind,
    check_text,
    check_visible,
    claim_verdict,
    lease_expired_event,
    lease_until,
    repeated_resolution,
    reply_events,
    sla_breach_due,
    sla_seconds,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ALEX = Agent("agent-alex", "Alex", ("billing",))
SAM = Agent("agent-sam", "Sam", ("billing", "support"))
BO = Agent("agent-bo", "Bo", ("shipping",))


def ticket(**changes: Any) -> Ticket:
    base = Ticket(
        ticket_id=str(uuid.uuid4()),
        kind="conversation",
        status="pending",
        priority=0,
        department="billing",
        thread_id="thread-1",
        user_tier=None,
        user_message_id=uuid.uuid4(),
        message_ids=(),
        reason="the user asked for a person",
        question=None,
        context=None,
        suggestion=None,
        confidence=None,
        draft_message_id=None,
        draft_text=None,
        tool_call_id=None,
        request_id=None,
        source_event_id=uuid.uuid4(),
        correlation_id=uuid.uuid4(),
        holder=None,
        claim_id=None,
        claimed_at=None,
        lease_expires_at=None,
        first_claimed_at=None,
        first_response_at=None,
        sla_due_at=NOW + timedelta(hours=1),
        sla_breached=False,
        replies=(),
        resolution=None,
        created_at=NOW - timedelta(minutes=5),
        updated_at=NOW,
        resolved_at=None,
    )
    return replace(base, **changes)


def held_by(
    agent: Agent, *, lease_left: timedelta = timedelta(minutes=5), **changes: Any
) -> Ticket:
    fields: dict[str, Any] = {
        "status": "assigned",
        "holder": Holder(agent.agent_id, agent.name, agent.departments[0]),
        "claim_id": "claim-1",
        "claimed_at": NOW - timedelta(minutes=5),
        "lease_expires_at": NOW + lease_left,
    }
    return ticket(**{**fields, **changes})


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
    assert not sla_breach_due(replace(due, sla_breached=True), NOW)
    assert not sla_breach_due(replace(due, first_response_at=NOW - timedelta(minutes=1)), NOW)
    assert not sla_breach_due(replace(due, status="resolved"), NOW)
    assert sla_breach_due(replace(due, status="assigned"), NOW)


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
    assert check_holder(ALEX, held_by(ALEX), NOW).agent_id == ALEX.agent_id
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
        resolution=Resolution("answer", ALEX.agent_id, "Alex", NOW),
    )
    assert repeated_resolution(ALEX, done, "answer")
    assert not repeated_resolution(SAM, done, "answer")
    assert not repeated_resolution(ALEX, replace(done, status="assigned"), "answer")


# ---------------------------------------------------------------- texts


def test_text_must_have_content_within_the_limit() -> None:
    assert check_text("ok", max_length=2) == "ok"
    with pytest.raises(InvalidTextError, match="empty"):
        check_text(" \n ", max_length=10)
    with pytest.raises(InvalidTextError, match="the limit is 2"):
        check_text("abc", max_length=2)


def test_approval_sends_the_draft_or_the_edit() -> None:
    assert approved_text("Draft.", None) == ("Draft.", False)
    assert approved_text("Draft.", "Draft.") == ("Draft.", False)
    assert approved_text("Draft.", "Better draft.") == ("Better draft.", True)
    with pytest.raises(InvalidTextError):
        approved_text(None, None)


# ---------------------------------------------------------------- events


def test_events_repeat_their_ids_for_the_same_ticket_and_action() -> None:
    subject = held_by(ALEX, kind="question", request_id=uuid.uuid4(), tool_call_id="call_1")
    agent = ALEX.acting_for(subject.department)
    first = answer_event(subject, text="yes", agent=agent, response_time_ms=5)
    again = answer_event(subject, text="yes", agent=agent, response_time_ms=9)
    assert (
        first.event_id == again.event_id == derive_id(subject.ticket_uuid, "answer:human.responded")
    )
    assert (first.request_id, first.tool_call_id) == (subject.request_id, "call_1")
    assert first.message_id == derive_id(first.event_id, "tool-result")
    assert (first.correlation_id, first.causation_id) == (
        subject.correlation_id,
        subject.source_event_id,
    )


def test_a_reply_is_sent_to_the_user_from_the_agent() -> None:
    subject = held_by(ALEX, message_ids=(uuid.uuid4(), uuid.uuid4()))
    message_id = uuid.uuid4()
    responded, sent = reply_events(
        subject,
        message_id=message_id,
        text="Hello",
        agent=ALEX.acting_for("billing"),
        user_id="u-1",
        channel="web",
        response_time_ms=1234,
    )
    assert (responded.kind, responded.message_id, responded.ticket_id) == (
        "reply",
        message_id,
        subject.ticket_id,
    )
    assert (sent.agent_name, sent.provider, sent.in_reply_to) == (
        "Alex",
        "human",
        subject.message_ids[-1],
    )
    assert responded.event_id != sent.event_id


def test_a_lapsed_claim_names_its_holder() -> None:
    subject = held_by(ALEX, lease_left=timedelta(seconds=-1))
    event = lease_expired_event(subject, claim_id="claim-1")
    assert (event.agent.name, event.kind, event.ticket_id) == (
        "Alex",
        "conversation",
        subject.ticket_id,
    )
    assert event.event_id == lease_expired_event(subject, claim_id="claim-1").event_id
    assert event.event_id != lease_expired_event(subject, claim_id="claim-2").event_id
