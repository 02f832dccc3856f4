"""Routing a message, against the in-memory conversation core and escalation log."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from baton_contracts import MessageReceived, RouteDecided, ThreadAssigned
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
