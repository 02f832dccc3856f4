"""Every event survives the wire; every kind of bad payload is refused with its reason."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from baton_contracts import (
    EVENT_CLASSES,
    EVENT_TYPES,
    ActionDecided,
    ActionExecuted,
    AgentStatusChanged,
    DecodeError,
    DraftApproved,
    DraftRejected,
    Event,
    HumanAgent,
    HumanResponded,
    MessageDelta,
    MessageReceived,
    MessageSent,
    MessageSubmitted,
    RouteDecided,
    ThreadAssigned,
    ThreadRated,
    TicketExpired,
    TicketLeaseExpired,
    TicketOpened,
    TicketSlaBreached,
    TicketSummarized,
    TicketSummary,
    ToolAction,
    ToolHumanRequested,
    decode,
    derive_id,
    encode,
    kafka_key,
    topics,
)
from baton_contracts.schema import DEFAULT_DIR, event_schemas, render

AGENT = HumanAgent(agent_id="a-1", name="Alex", department="billing")
CAUSE = MessageSubmitted.first(thread_id="thread-1", text="Where is my refund?", user_id="u-1")
MESSAGE_ID = uuid.uuid4()


def samples() -> list[Event]:
    """One fully populated instance of every event type."""
    return [
        CAUSE,
        MessageReceived.caused_by(
            CAUSE,
            message_id=MESSAGE_ID,
            text="Where is my refund?",
            user_id="u-1",
            channel="web",
            department="billing",
            user_tier="vip",
            respond=True,
        ),
        RouteDecided.caused_by(
            CAUSE,
            message_id=MESSAGE_ID,
            handler="human",
            strategy="classifier",
            reason="refund dispute",
            confidence=0.91,
            text="Where is my refund?",
            department="billing",
            user_tier="vip",
        ),
        ToolHumanRequested.caused_by(
            CAUSE,
            request_id=uuid.uuid4(),
            kind="question",
            message_id=MESSAGE_ID,
            tool_call_id="call_1",
            question="Was order 42 refunded?",
            context="order 42",
            reason="needs a fact",
            suggestion="It was refunded.",
            confidence=0.4,
        ),
        HumanResponded.caused_by(
            CAUSE,
            kind="answer",
            ticket_id="tk-1",
            message_id=uuid.uuid4(),
            text="Yes, on May 2.",
            agent=AGENT,
            request_id=uuid.uuid4(),
            tool_call_id="call_1",
            response_time_ms=5300,
        ),
        DraftApproved.caused_by(
            CAUSE,
            draft_message_id=uuid.uuid4(),
            ticket_id="tk-2",
            text="Edited reply",
            edited=True,
            agent=AGENT,
        ),
        DraftRejected.caused_by(
            CAUSE,
            draft_message_id=uuid.uuid4(),
            ticket_id="tk-3",
            review="Too vague",
            agent=AGENT,
        ),
        ToolHumanRequested.caused_by(
            CAUSE,
            request_id=uuid.uuid4(),
            kind="action",
            message_id=MESSAGE_ID,
            tool_call_id="call_2",
            reason="the AI wants to run credit_order; approval: amount > 50",
            action=ToolAction(
                tool_name="credit_order",
                description="Credit an order.",
                parameters={"type": "object", "properties": {"amount": {"type": "number"}}},
                arguments={"order_id": "42", "amount": 80},
                approval_reason="amount > 50",
            ),
        ),
        ActionDecided.caused_by(
            CAUSE,
            ticket_id="tk-4",
            request_id=uuid.uuid4(),
            tool_call_id="call_2",
            tool_name="credit_order",
            decision="approved",
            arguments={"order_id": "42", "amount": 60},
            edited=True,
            agent=AGENT,
        ),
        ActionExecuted.caused_by(
            CAUSE,
            tool_name="credit_order",
            tool_call_id="call_2",
            message_id=MESSAGE_ID,
            request_id=uuid.uuid4(),
            ticket_id="tk-4",
            idempotency_key=str(uuid.uuid4()),
            arguments={"order_id": "42", "amount": 60},
            outcome="failed",
            status_code=503,
            error="HTTP 503",
            duration_ms=120,
            resent=True,
        ),
        MessageSent.caused_by(
            CAUSE,
            message_id=uuid.uuid4(),
            in_reply_to=MESSAGE_ID,
            text="Refunded on May 2.",
            user_id="u-1",
            channel="web",
            agent_name="Baton AI",
            provider="openai",
        ),
        MessageDelta.caused_by(
            CAUSE,
            message_id=uuid.uuid4(),
            in_reply_to=MESSAGE_ID,
            sequence=3,
            text="funded on ",
            user_id="u-1",
            channel="web",
            agent_name="Baton AI",
        ),
        MessageSent.caused_by(
            CAUSE,
            message_id=uuid.uuid4(),
            text="A colleague will be with you shortly.",
            user_id="u-1",
            channel="web",
            agent_name="Baton",
            provider="baton",
            notice="handoff",
        ),
        ThreadAssigned.caused_by(
            CAUSE, owner="human", previous_owner="ai", agent_id="a-1", reason="claimed"
        ),
        TicketOpened.caused_by(
            CAUSE,
            ticket_id="tk-6",
            kind="escalation",
            message_id=MESSAGE_ID,
            priority=60,
            department="billing",
            reason="refund dispute",
        ),
        TicketSummarized.caused_by(
            CAUSE,
            ticket_id="tk-6",
            summary=TicketSummary(
                issue="Refund for order 42 not received",
                tried="The AI confirmed the refund was issued on May 2.",
                mood="frustrated",
            ),
        ),
        TicketExpired.caused_by(
            CAUSE,
            ticket_id="tk-7",
            kind="question",
            request_id=uuid.uuid4(),
            tool_call_id="call_1",
            message_id=MESSAGE_ID,
            reason="no answer within 300 s",
            fallback="ai",
        ),
        ThreadRated.caused_by(
            CAUSE,
            score=4,
            comment="Quick, thanks",
            resolved_by="human",
            ticket_id="tk-6",
            agent=AGENT,
            department="billing",
            via="text",
        ),
        TicketLeaseExpired.caused_by(
            CAUSE,
            ticket_id="tk-4",
            kind="conversation",
            agent=AGENT,
            claimed_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
            lease_expired_at=datetime(2026, 1, 1, 12, 10, tzinfo=UTC),
            department="billing",
        ),
        TicketSlaBreached.caused_by(
            CAUSE,
            ticket_id="tk-5",
            kind="approval",
            status="assigned",
            sla="next_response",
            priority=80,
            priority_raised_by=20,
            department="billing",
            created_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
            sla_due_at=datetime(2026, 1, 1, 12, 5, tzinfo=UTC),
            agent=AGENT,
        ),
        AgentStatusChanged.first(
            thread_id="agent:a-1",
            agent_id="a-1",
            status="away",
            previous_status="online",
            reason="idle",
            departments=["billing"],
        ),
    ]


def test_samples_cover_every_event_type() -> None:
    assert {type(e) for e in samples()} == set(EVENT_TYPES)


@pytest.mark.parametrize("event", samples(), ids=lambda e: e.type)
def test_round_trip(event: Event) -> None:
    decoded = decode(encode(event))
    assert decoded == event
    assert type(decoded) is type(event)
    assert decode(encode(event), expect=type(event)) == event


@pytest.mark.parametrize("event", samples(), ids=lambda e: e.type)
def test_topic_is_the_event_type(event: Event) -> None:
    assert event.type in topics.ALL
    assert topics.dead_letter_topic(event.type) == f"{event.type}.dlq"


def test_caused_by_links_the_chain() -> None:
    received = MessageReceived.caused_by(CAUSE, message_id=MESSAGE_ID, text="x")
    assert received.thread_id == CAUSE.thread_id
    assert received.correlation_id == CAUSE.event_id == CAUSE.correlation_id
    assert received.causation_id == CAUSE.event_id
    assert CAUSE.causation_id is None


def test_caused_by_with_purpose_is_deterministic() -> None:
    first = MessageReceived.caused_by(CAUSE, purpose="received", message_id=MESSAGE_ID, text="x")
    again = MessageReceived.caused_by(CAUSE, purpose="received", message_id=MESSAGE_ID, text="x")
    other = MessageReceived.caused_by(CAUSE, purpose="other", message_id=MESSAGE_ID, text="x")
    assert first.event_id == again.event_id == derive_id(CAUSE.event_id, "received")
    assert other.event_id != first.event_id


def test_kafka_key_is_the_thread_id() -> None:
    assert CAUSE.kafka_key() == b"thread-1" == kafka_key("thread-1")


def test_occurred_at_is_normalised_to_utc() -> None:
    plus_two = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    event = MessageSubmitted.first(thread_id="t", text="x", occurred_at=plus_two)
    assert event.occurred_at == plus_two
    assert event.occurred_at.tzinfo == UTC


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        MessageSubmitted.first(thread_id="t", text="x", occurred_at=datetime(2026, 1, 1))  # noqa: DTZ001


def test_events_are_immutable() -> None:
    with pytest.raises(ValidationError):
        CAUSE.text = "changed"  # type: ignore[misc]


def test_every_field_is_described() -> None:
    def undescribed(model: type[BaseModel], prefix: str) -> list[str]:
        missing = []
        for name, info in model.model_fields.items():
            if not info.description:
                missing.append(f"{prefix}{name}")
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                missing += undescribed(annotation, f"{prefix}{name}.")
        return missing

    gaps = [gap for cls in EVENT_TYPES for gap in undescribed(cls, f"{cls.__name__}.")]
    assert gaps == []


def _payload(**changes: object) -> bytes:
    raw = json.loads(encode(CAUSE))
    raw.update(changes)
    return json.dumps(raw).encode()


@pytest.mark.parametrize(
    ("payload", "code", "fragment"),
    [
        (b"{not json", "invalid_json", "not valid JSON"),
        (b"\xff\xfe", "invalid_json", "not valid JSON"),
        (b"[1, 2]", "not_an_object", "JSON list"),
        (_payload(type="message.exploded"), "unknown_type", "'message.exploded'"),
        (_payload(type=None), "unknown_type", "None"),
        (_payload(schema_version=99), "unsupported_version", "schema_version 99"),
        (_payload(text=""), "invalid_field", "field 'text'"),
        (_payload(text="x" * 16_001), "invalid_field", "at most 16000"),
        (_payload(thread_id="bad thread id!"), "invalid_field", "field 'thread_id'"),
        (_payload(occurred_at="2026-01-01T00:00:00"), "invalid_field", "field 'occurred_at'"),
        (_payload(event_id="nope"), "invalid_field", "field 'event_id'"),
        (_payload(surprise=1), "invalid_field", "field 'surprise'"),
    ],
)
def test_bad_payloads_are_refused_with_a_reason(payload: bytes, code: str, fragment: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(payload)
    assert caught.value.code == code
    assert fragment in str(caught.value)


def test_missing_fields_are_named() -> None:
    raw = json.loads(encode(CAUSE))
    del raw["thread_id"], raw["text"]
    with pytest.raises(DecodeError, match="field 'thread_id': Field required") as caught:
        decode(json.dumps(raw))
    assert "field 'text'" in caught.value.detail


def test_expect_refuses_another_type() -> None:
    with pytest.raises(DecodeError, match=r"expected 'message\.received'") as caught:
        decode(encode(CAUSE), expect=MessageReceived)
    assert caught.value.code == "unexpected_type"


def test_event_classes_index_every_type() -> None:
    assert set(EVENT_CLASSES.values()) == set(EVENT_TYPES)
    assert all(EVENT_CLASSES[cls.model_fields["type"].default] is cls for cls in EVENT_TYPES)


@pytest.mark.parametrize("name", sorted(event_schemas()))
def test_schema_snapshot_is_current(name: str) -> None:
    committed = Path(DEFAULT_DIR, name)
    assert committed.exists(), f"{name} missing: run `make schemas`"
    assert committed.read_text() == render(event_schemas()[name]), (
        f"{name} is stale: run `make schemas` and commit the result"
    )


def test_schema_files_have_no_strays() -> None:
    assert sorted(p.name for p in Path(DEFAULT_DIR).glob("*.json")) == sorted(event_schemas())


def test_schemas_validate_real_payloads() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schemas = event_schemas()
    for event in samples():
        jsonschema.validate(json.loads(encode(event)), schemas[f"{event.type}.schema.json"])
