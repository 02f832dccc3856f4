"""The router's use case: decide who answers a user message, and hand the thread over
when people should."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from baton_contracts import MessageReceived, RouteDecided, utc_now
from baton_conversations import (
    ALWAYS_OPEN,
    Because,
    BusinessHours,
    ConversationStore,
    EscalationBudget,
)
from baton_runtime import ESCALATIONS, ESCALATIONS_REFUSED, Rejected

from .classifier import Classifier, ClassifierError
from .metrics import ROUTING_DECISIONS
from .policy import (
    ClassifierOutcome,
    RoutedMessage,
    Rule,
    decide,
    first_matching_rule,
    out_of_hours,
    rate_limited,
)


@dataclass(frozen=True)
class RoutingConfig:
    rules: Sequence[Rule]
    min_confidence: float
    hours: BusinessHours = field(default=ALWAYS_OPEN)
    """Each department's business hours and out-of-hours fallback."""


class Router:
    def __init__(
        self,
        *,
        conversations: ConversationStore,
        escalations: EscalationBudget,
        classifier: Classifier | None,
        config: RoutingConfig,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._conversations = conversations
        self._escalations = escalations
        self._classifier = classifier
        self._config = config
        self._now = clock

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
        hours = config.hours.of(message.department)
        if decision.escalates and hours is not None and hours.out_of_hours == "ai":
            now = self._now()
            if not hours.is_open(now):
                decision = out_of_hours(decision, back_at=hours.local(hours.next_open(now)))
        if decision.escalates:
            # Counted for the thread's user, whatever the message claims.
            refused = await self._escalations.take(thread)
            if refused is not None:
                ESCALATIONS_REFUSED.labels(decision.strategy).inc()
                decision = rate_limited(decision, refused.reason)

        ROUTING_DECISIONS.labels(decision.handler, decision.strategy).inc()
        if decision.escalates:
            ESCALATIONS.labels(decision.strategy).inc()
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
