"""Routing a message, against the in-memory conversation core and escalation log."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from baton_contracts import MessageReceived, RouteDecided, ThreadAssigned
from baton_conversations import BusinessHours, OpeningHours
from baton_router.classifier import ClassifierError
from baton_router.policy import DEFAULT_RULES, Classification, RoutedMessage
from baton_router.usecases import Router, RoutingConfig
from baton_runtime import Rejected
from tests.support.memory import MemoryConversations, MemoryEscalations


class ScriptedClassifier:
    def __init__(self, answer: Classification | Exception) -> None:
        self.answer = answer
        self.asked: list[RoutedMessage] = []

    async def classify(self, message: RoutedMessage) -> Classification:
        self.asked.append(message)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


async def setup(
    classifier: ScriptedClassifier | None = None, *, per_user: int = 5
) -> tuple[Router, MemoryConversations, MemoryEscalations, str]:
    conversations, escalations = MemoryConversations(), MemoryEscalations(per_user=per_user)
    router = Router(
        conversations=conversations,
        escalations=escalations,
        classifier=classifier,
        config=RoutingConfig(
            rules=DEFAULT_RULES.rules,
            min_confidence=0.6,
        ),
    )
    thread = await conversations.open_thread(
        user_id="u1", channel="web", department=None, metadata={}
    )
    return router, conversations, escalations, thread.thread_id


def received(thread_id: str, text: str, **fields: object) -> MessageReceived:
    return MessageReceived.first(
        thread_id=thread_id, message_id=uuid.uuid4(), text=text, user_id="u1", **fields
    )


async def test_a_plain_message_goes_to_the_ai_and_the_thread_stays_with_it() -> None:
    router, conversations, _, thread_id = await setup()
    [decision] = await router.route(received(thread_id, "what are your hours?"))
    assert isinstance(decision, RouteDecided)
    assert (decision.handler, decision.strategy) == ("ai", "default")
    assert conversations.publisher.published == []
    assert (await conversations.require_thread(thread_id)).owner == "ai"


async def test_a_rule_hands_the_thread_to_people_and_the_core_announces_it() -> None:
    router, conversations, escalations, thread_id = await setup()
    event = received(thread_id, "I want to talk to a human")
    [decision] = await router.route(event)
    assert (decision.handler, decision.strategy) == ("human", "rule")
    [assigned] = conversations.publisher.of_type(ThreadAssigned)
    assert (assigned.owner, assigned.previous_owner, assigned.causation_id) == (
        "human",
        "ai",
        event.event_id,
    )
    assert escalations.taken == 1


async def test_a_thread_people_own_stays_with_them_and_keeps_its_agent() -> None:
    router, conversations, escalations, thread_id = await setup()
    thread = await conversations.require_thread(thread_id)
    conversations.threads[thread_id] = replace(thread, owner="human", assigned_agent="agent-1")
    [decision] = await router.route(received(thread_id, "hello again"))
    assert (decision.handler, decision.strategy) == ("human", "owner_flag")
    assert conversations.publisher.published == []
    assert (await conversations.require_thread(thread_id)).assigned_agent == "agent-1"
    assert escalations.taken == 0


async def test_the_classifier_decides_when_no_rule_does_and_its_failure_falls_back() -> None:
    sure = ScriptedClassifier(Classification(handler="human", reason="upset", confidence=0.9))
    router, _, _, thread_id = await setup(sure)
    [decision] = await router.route(received(thread_id, "this is unacceptable"))
    assert (decision.handler, decision.strategy, decision.confidence) == (
        "human",
        "classifier",
        0.9,
    )

    failing = ScriptedClassifier(ClassifierError("timeout"))
    router, _, _, thread_id = await setup(failing)
    [decision] = await router.route(received(thread_id, "hello"))
    assert (decision.handler, decision.strategy) == ("ai", "default")
    assert "classifier failed" in decision.reason


async def test_escalations_past_the_per_user_limit_stay_with_the_ai() -> None:
    router, conversations, _, thread_id = await setup(per_user=1)
    await router.route(received(thread_id, "talk to a human"))
    other = await conversations.open_thread(
        user_id="u1", channel=None, department=None, metadata={}
    )
    [decision] = await router.route(received(other.thread_id, "talk to a human"))
    assert (decision.handler, decision.strategy) == ("ai", "rate_limited")


async def test_a_message_stored_without_a_reply_is_not_routed() -> None:
    router, _, _, thread_id = await setup()
    assert await router.route(received(thread_id, "note to self", respond=False)) == []


async def test_an_unknown_thread_is_rejected() -> None:
    router, _, _, _ = await setup()
    with pytest.raises(Rejected) as refused:
        await router.route(received("nope", "hi"))
    assert refused.value.code == "unknown_thread"


# ---------------------------------------------------------------- business hours

HOURS = BusinessHours(
    departments={
        # Weekdays 09:00-17:00 in Berlin; out of hours the AI keeps what it can.
        "billing": OpeningHours(
            timezone="Europe/Berlin", hours={"mon-fri": "09:00-17:00"}, out_of_hours="ai"
        ),
        # The same hours; out of hours conversations wait for people (the default).
        "legal": OpeningHours(timezone="Europe/Berlin", hours={"mon-fri": "09:00-17:00"}),
    }
)
SUNDAY = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


async def routed_at(
    now: datetime, department: str, text: str
) -> tuple[RouteDecided, MemoryConversations, MemoryEscalations, str]:
    conversations, escalations = MemoryConversations(), MemoryEscalations()
    router = Router(
        conversations=conversations,
        escalations=escalations,
        classifier=None,
        config=RoutingConfig(rules=DEFAULT_RULES.rules, min_confidence=0.6, hours=HOURS),
        clock=lambda: now,
    )
    thread = await conversations.open_thread(
        user_id="u1", channel="web", department=department, metadata={}
    )
    [decision] = await router.route(received(thread.thread_id, text))
    return decision, conversations, escalations, thread.thread_id


async def test_out_of_hours_the_ai_keeps_a_conversation_a_rule_would_escalate() -> None:
    decision, conversations, escalations, thread_id = await routed_at(
        SUNDAY, "billing", "I will sue you"
    )

    assert (decision.handler, decision.strategy) == ("ai", "out_of_hours")
    assert "people are away until 2026-03-02T09:00+01:00" in decision.reason
    assert (await conversations.require_thread(thread_id)).owner == "ai"
    assert conversations.publisher.of_type(ThreadAssigned) == []
    assert escalations.taken == 0  # nothing escalated, nothing counted

    during, *_ = await routed_at(MONDAY, "billing", "I will sue you")
    assert (during.handler, during.strategy) == ("human", "rule")


async def test_out_of_hours_an_explicit_request_and_a_waiting_department_go_to_people() -> None:
    asked, conversations, _, thread_id = await routed_at(SUNDAY, "billing", "talk to a human")
    assert (asked.handler, asked.strategy) == ("human", "rule")
    assert (await conversations.require_thread(thread_id)).owner == "human"

    waits, *_ = await routed_at(SUNDAY, "legal", "I will sue you")
    assert (waits.handler, waits.strategy) == ("human", "rule")
