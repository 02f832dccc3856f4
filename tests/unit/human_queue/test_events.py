"""The events a ticket change announces repeat their ids when the change is made again."""

from __future__ import annotations

import uuid
from datetime import timedelta

from baton_contracts import derive_id
from baton_conversations import Thread
from baton_human_queue.events import answer_event, lease_expired_event, reply_events
from baton_human_queue.tickets import QuestionTicket, ThreadTicket

from .test_domain import ALEX, NOW, held_by

THREAD = Thread(
    thread_id="thread-1",
    user_id="u-1",
    channel="web",
    department="billing",
    user_tier=None,
    owner="human",
    assigned_agent=ALEX.agent_id,
    status="open",
    metadata={},
    created_at=NOW,
    updated_at=NOW,
)


def test_events_repeat_their_ids_for_the_same_ticket_and_action() -> None:
    subject = held_by(ALEX, kind="question", request_id=uuid.uuid4(), tool_call_id="call_1")
    assert isinstance(subject, QuestionTicket)
    agent = ALEX.acting_for(subject.department)
    first = answer_event(subject, text="yes", agent=agent, response_time_ms=5)
    again = answer_event(subject, text="yes", agent=agent, response_time_ms=9)
    assert first.event_id == again.event_id
    assert first.event_id == derive_id(uuid.UUID(subject.ticket_id), "answer:human.responded")
    assert (first.request_id, first.tool_call_id) == (subject.request_id, "call_1")
    assert first.message_id == derive_id(first.event_id, "tool-result")
    assert (first.correlation_id, first.causation_id) == (
        subject.correlation_id,
        subject.source_event_id,
    )


def test_a_reply_is_sent_to_the_user_from_the_agent() -> None:
    subject = held_by(ALEX, message_ids=(uuid.uuid4(), uuid.uuid4()))
    assert isinstance(subject, ThreadTicket)
    message_id = uuid.uuid4()
    responded, sent = reply_events(
        subject,
        message_id=message_id,
        text="Hello",
        agent=ALEX.acting_for("billing"),
        thread=THREAD,
        response_time_ms=1234,
        in_reply_to=subject.message_ids[-1],
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
    assert (sent.user_id, sent.channel) == ("u-1", "web")
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
