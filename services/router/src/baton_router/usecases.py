"""The router's use case: decide who answers a user message, and hand the thread over
when people should."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from baton_contracts import MessageReceived, RouteDecided, derive_id
from baton_conversations import Because, ConversationStore
from baton_runtime import ESCALATIONS, Rejected

from .classifier import Classifier, ClassifierError
from .metrics import ROUTING_DECISIONS
from .policy import (
    ClassifierOutcome,
    EscalationLimits,
    RoutedMessage,
    Rule,
    apply_limits,
    decide,
    first_matching_rule,
)
from .store import EscalationLog


@dataclass(frozen=True)
class RoutingConfig:
    rules: Sequence[Rule]
    limits: EscalationLimits
    min_confidence: float


class Router:
    def __init__(
        self,
        *,
        conversations: ConversationStore,
        escalations: EscalationLog,
        classifier: Classifier | None,
        config: RoutingConfig,
    ) -> None:
        self._conversations = conversations
        self._escalations = escalations
        self._classifier = classifier
        self._config = config

    async def route(self, event: MessageReceived) -> list[RouteDecided]:
        """Decide who answers. Runs once per event (the runner's handled-events log replays
        the first decision on redelivery, since deciding again could differ: the first
        decision may have changed the thread's owner)."""
        if not event.respond:
            return []
        thread = await self._conversations.get_thread(event.thread_id)
        if thread is None:
            raise Rejected(f"thread {event.thread_id!r} does not exist", code="unknown_thread")
        config = self._config
        message = RoutedMessage(
            text=event.text,
            user_id=event.user_id or thread.user_id,
            department=event.department or thread.department,
            user_tier=event.user_tier or thread.user_tier,
        )
        outcome: ClassifierOutcome = None
        if (
            self._classifier is not None
            and thread.owner != "human"
            and first_matching_rule(config.rules, message) is None
        ):
            try:
                outcome = await self._classifier.classify(message)
            except ClassifierError as exc:
                outcome = str(exc)

        decision = decide(
            owner=thread.owner,
            message=message,
            rules=config.rules,
            classifier=outcome,
            min_confidence=config.min_confidence,
        )
        if decision.escalates:
            recent = await self._escalations.recent(
                user_id=message.user_id, thread_id=thread.thread_id, window_s=config.limits.window_s
            )
            decision = apply_limits(decision, recent, config.limits)

        ROUTING_DECISIONS.labels(decision.handler, decision.strategy).inc()
        if decision.escalates:
            ESCALATIONS.labels(decision.strategy).inc()
            await self._escalations.record(
                str(derive_id(event.event_id, "escalation")),
                user_id=message.user_id,
                thread_id=thread.thread_id,
            )
        if decision.handler == "human":
            # The core announces the change itself (thread.assigned), in the same write. A
            # thread people own already keeps its agent.
            await self._conversations.assign(
                thread,
                owner="human",
                agent_id=None,
                reason=decision.reason,
                because=Because.of(event, "thread.assigned"),
                only_from="ai",
            )
        return [
            RouteDecided.caused_by(
                event,
                purpose="route.decided",
                message_id=event.message_id,
                handler=decision.handler,
                strategy=decision.strategy,
                reason=decision.reason,
                confidence=decision.confidence,
                text=event.text,
                department=message.department,
                user_tier=message.user_tier,
            )
        ]
