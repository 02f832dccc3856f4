"""Outbox entries survive storage as they were written."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from baton_contracts import HumanAgent, MessageSent
from baton_human_queue import effects as fx
from baton_runtime.history import Message

AT = datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC)


def test_every_kind_of_entry_round_trips() -> None:
    event = MessageSent.first(
        thread_id="t-1", message_id=uuid.uuid4(), text="hi", agent_name="Alex", provider="human"
    )
    message = Message(
        message_id=uuid.uuid4(),
        thread_id="t-1",
        role="assistant",
        content="hi",
        agent_name="Alex",
        provider="human",
        metadata={"provider_metadata": {"human": {"agent_id": "a", "name": "Alex"}}},
        in_reply_to=uuid.uuid4(),
        created_at=AT,
    )
    feedback = fx.Feedback(
        feedback_id="f-1",
        kind="approval",
        ticket_id="tk",
        thread_id="t-1",
        ai_output=fx.AiOutput(kind="draft", text="draft", message_id=uuid.uuid4()),
        human_text="edited",
        edited=True,
        agent=HumanAgent(agent_id="a", name="Alex", department="billing"),
        at=AT,
    )
    entries = [
        fx.publish(event),
        fx.store_message(message),
        fx.set_owner("claim:1", "t-1", "human", "a"),
        fx.record_feedback(feedback),
        fx.close_claim("c-1", AT, "expired"),
    ]
    restored = [fx.Effect.from_document(e.to_document()).payload() for e in entries]

    assert restored[0] == event
    assert isinstance(restored[1], fx.StoredMessage)
    assert restored[1].to_message() == message
    assert restored[2] == fx.OwnerChange(thread_id="t-1", owner="human", agent_id="a")
    assert restored[3] == feedback
    assert restored[4] == fx.ClaimClosed(claim_id="c-1", ended_at=AT, outcome="expired")


def test_entry_ids_are_stable_for_the_same_follow_up() -> None:
    assert (
        fx.set_owner("resolve", "t", "ai", None).id == fx.set_owner("resolve", "t", "ai", None).id
    )
    assert fx.close_claim("c", AT, "released").id == "claim_closed:c"
