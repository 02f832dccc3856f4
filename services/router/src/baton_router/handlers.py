"""The router's one handler: ``message.received`` in, ``route.decided`` (and maybe
``thread.assigned``) out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from baton_contracts import Event, MessageReceived, RouteDecided, ThreadAssigned, derive_id
from baton_runtime import ESCALATIONS, Rejected
from baton_runtime.history import MongoHistory

from .classifier import Classifier, ClassifierError
from .metrics import ROUTING_DECISIONS
from .policy import (
    ClassifierOutcome,
    EscalationLimits,
    RecentEscalations,
    RoutedMessage,
    Rule,
    apply_limits,
    decide,
    first_matching_rule,
)
from .store import RouterStore


@dataclass(frozen=True)
class RouterDeps:
    history: MongoHistory
    store: RouterStore
    rules: Sequence[Rule]
    classifier: Classifier | None
    limits: EscalationLimits
    min_confidence: float


async def on_message_received(event: MessageReceived, *, deps: RouterDeps) -> Sequence[Event]:
    """Decide who answers. Runs once per event: the runner's handled-event log replays the
    first decision on redelivery, since deciding again could differ (the first decision may
    have changed the thread's owner)."""
    if not event.respond:
        return ()
    thread = await deps.history.get_thread(event.thread_id)
    if thread is None:
        raise Rejected(f"thread {event.thread_id!r} does not exist", code="unknown_thread")
    message = RoutedMessage(
        text=event.text,
        user_id=event.user_id or thread.user_id,
        department=event.department or thread.department,
        user_tier=event.user_tier or thread.user_tier,
    )

    outcome: ClassifierOutcome = None
    if (
        deps.classifier is not None
        and thread.owner != "human"
        and first_matching_rule(deps.rules, message) is None
    ):
        try:
            outcome = await deps.classifier.classify(message)
        except ClassifierError as exc:
            outcome = str(exc)

    decision = decide(
        owner=thread.owner,
        message=message,
        rules=deps.rules,
        classifier=outcome,
        min_confidence=deps.min_confidence,
    )
    if decision.escalates:
        by_user, in_thread = await deps.store.recent_escalations(
            user_id=message.user_id, thread_id=thread.thread_id, window_s=deps.limits.window_s
        )
        decision = apply_limits(decision, RecentEscalations(by_user, in_thread), deps.limits)

    ROUTING_DECISIONS.labels(decision.handler, decision.strategy).inc()
    if decision.escalates:
        ESCALATIONS.labels(decision.strategy).inc()
    events: list[Event] = [
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
    if decision.escalates:
        await deps.store.record_escalation(
            str(derive_id(event.event_id, "escalation")),
            user_id=message.user_id,
            thread_id=thread.thread_id,
        )
    if decision.handler == "human" and thread.owner != "human":
        await deps.history.set_owner(thread.thread_id, "human", None)
        events.append(
            ThreadAssigned.caused_by(
                event,
                purpose="thread.assigned",
                owner="human",
                previous_owner=thread.owner,
                reason=decision.reason,
            )
        )
    return events
