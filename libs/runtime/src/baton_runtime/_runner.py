"""Handling one record at least once: decode, handle, save, publish; then it is finished.

A record is finished (and its offset may be committed) only once the handler's writes and
the events it produced are acknowledged by Kafka, so a crash anywhere in between delivers
the record again, and idempotent handlers with the handled-events log turn that into a
replay.

Failures are sorted three ways:

* poison (undecodable, invalid, or a handler's verdict: :class:`Rejected`, or a domain
  :class:`~baton_runtime.RefusedError` with its code) goes straight to ``<topic>.dlq`` with
  the reason, and the record is finished;
* infrastructure trouble (MongoDB or Kafka unreachable, timeouts) is retried with capped
  exponential backoff for as long as it lasts: the record itself is fine. Only its own
  thread waits meanwhile;
* any other error is retried a bounded number of times, then dead-lettered.

With tracing on, a record is worked on in a consumer span, the child of the trace context its
headers carry (``traceparent``, ``tracestate``): what the handler does and publishes stays in
the trace of what it handles.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from aiokafka.errors import KafkaError
from pymongo.errors import ConnectionFailure

from baton_contracts import DecodeError, Event, decode

from . import _metrics as metrics
from ._dead_letters import DeadLetters
from ._errors import RefusedError
from ._handled import HandledLog
from ._kafka import EventPublisher
from ._logging import log_context
from ._records import Record
from ._tracing import consumer_span, describe_event, mark_failed, tracing_on

E = TypeVar("E", bound=Event)
T = TypeVar("T")
Handler = Callable[[E], Awaitable[Sequence[Event]]]
Wants = Callable[[E], bool]
"""Whether a service works on an event at all (e.g. only routes to its own handler): a pure
decision on the event alone. A record it declines is finished without any other work."""

log = logging.getLogger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    KafkaError,
    TimeoutError,
    ConnectionError,
)


class Rejected(Exception):  # noqa: N818 - a verdict, not an error
    """Raised by a handler for an event that can never succeed (e.g. an unknown thread)."""

    def __init__(self, reason: str, *, code: str = "rejected") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    """Attempts for an unexpected error before the record is dead-lettered."""
    initial_backoff: float = 0.2
    max_backoff: float = 10.0

    def backoff(self, attempt: int) -> float:
        delay = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        return float(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security


@dataclass(frozen=True)
class Subscription(Generic[E]):
    """What a service does with one topic's records."""

    topic: str
    event_type: type[E]
    handler: Handler[E]
    wants: Wants[E] | None = None
    group: str | None = None
    """The consumer group, as deployed (for traces)."""


class EventRunner:
    """Runs records through decode, handler and publish, with the retry rules above."""

    def __init__(
        self,
        *,
        publisher: EventPublisher,
        dead_letters: DeadLetters,
        handled: HandledLog | None = None,
        policy: RetryPolicy | None = None,
        service: str = "baton",
    ) -> None:
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._handled = handled
        self._policy = policy or RetryPolicy()
        self._service = service

    @property
    def service(self) -> str:
        return self._service

    def watch(self, topic: str) -> None:
        """Start ``topic``'s counters at zero: a counter that appears with its first dead
        letter would hide that dead letter from increase() and from the alert on it."""
        for outcome in metrics.EVENT_OUTCOMES:
            metrics.EVENTS_HANDLED.labels(self._service, topic, outcome)
        for kind in metrics.RETRY_KINDS:
            metrics.HANDLER_RETRIES.labels(self._service, topic, kind)

    async def run(self, record: Record, subscription: Subscription[E]) -> str:
        """Work on ``record`` until it is finished; returns its outcome (``handled``,
        ``replayed``, ``dead_lettered`` or ``skipped``)."""
        started = time.perf_counter()
        if tracing_on():
            outcome = await self._traced(record, subscription)
        else:
            outcome = await self._run(record, subscription)
        metrics.HANDLER_SECONDS.labels(self._service, record.topic).observe(
            time.perf_counter() - started
        )
        metrics.EVENTS_HANDLED.labels(self._service, record.topic, outcome).inc()
        return outcome

    async def _traced(self, record: Record, subscription: Subscription[E]) -> str:
        """``_run`` in a consumer span, in the trace the record's headers carry."""
        with consumer_span(record, group=subscription.group) as span:
            outcome = await self._run(record, subscription)
            span.set_attribute("baton.outcome", outcome)
            if outcome == "dead_lettered":
                mark_failed(span, "dead-lettered")
            return outcome

    async def _run(self, record: Record, subscription: Subscription[E]) -> str:
        with log_context(topic=record.topic):
            try:
                event = decode(record.value, expect=subscription.event_type)
            except DecodeError as exc:
                await self._dead_letter(record, exc.code, str(exc))
                return "dead_lettered"
            # Everything logged while the event is handled names it, its thread and its
            # conversation.
            with log_context(
                event_type=event.type,
                event_id=event.event_id,
                thread_id=event.thread_id,
                correlation_id=event.correlation_id,
            ):
                describe_event(event)
                return await self._handle(record, event, subscription)

    async def _handle(self, record: Record, event: E, subscription: Subscription[E]) -> str:
        if subscription.wants is not None and not subscription.wants(event):
            return "skipped"
        handled = self._handled
        if handled is not None:
            earlier = await self._persist(record, lambda: handled.get(event.event_id))
            if earlier is not None:
                # A redelivery is not worked on again: what the first run produced is
                # published if it still waits, else nothing is.
                if earlier.waiting:
                    await self._persist(
                        record, lambda: handled.deliver(event.event_id, earlier.waiting)
                    )
                return "replayed"
        produced = await self._attempt(record, event, subscription.handler)
        if produced is None:
            return "dead_lettered"
        if handled is None:
            if produced:
                await self._persist(record, lambda: self._publisher.publish(produced))
            return "handled"
        entries = await self._persist(record, lambda: handled.save(event.event_id, produced))
        if entries:
            await self._persist(record, lambda: handled.deliver(event.event_id, entries))
        return "handled"

    async def _attempt(self, record: Record, event: E, handler: Handler[E]) -> list[Event] | None:
        """The handler's events, after retries; None once the record is dead-lettered."""
        try:
            return list(await self._retrying(record, lambda: handler(event), bounded=True))
        except Rejected as exc:
            await self._dead_letter(record, exc.code, exc.reason)
        except RefusedError as exc:  # the domain's own refusal: the same verdict
            await self._dead_letter(record, exc.code, exc.message)
        except Exception as exc:
            log.exception("giving up on %s", record.where)
            await self._dead_letter(
                record,
                "handler_failed",
                f"failed {self._policy.max_attempts} times; last error: "
                f"{type(exc).__name__}: {exc}",
            )
        return None

    async def _persist(self, record: Record, step: Callable[[], Awaitable[T]]) -> T:
        """A bookkeeping step (the log, a publish): it belongs to no verdict, so it is
        retried until it succeeds; cancellation (shutdown, revocation) ends the wait."""
        return await self._retrying(record, step, bounded=False)

    async def _retrying(
        self, record: Record, step: Callable[[], Awaitable[T]], *, bounded: bool
    ) -> T:
        """``step``'s result, retried with backoff: infrastructure errors without limit,
        other errors up to ``max_attempts`` times when ``bounded``; then the last error is
        raised. A verdict (:class:`Rejected`, a domain refusal) is never retried."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await step()
            except (Rejected, RefusedError):
                raise
            except TRANSIENT_ERRORS as exc:
                kind = "transient"
                log.warning("transient failure on %s (attempt %d): %r", record.where, attempt, exc)
            except Exception as exc:
                if bounded and attempt >= self._policy.max_attempts:
                    raise
                kind = "error"
                log.warning("failure on %s (attempt %d): %r", record.where, attempt, exc)
            metrics.HANDLER_RETRIES.labels(self._service, record.topic, kind).inc()
            await asyncio.sleep(self._policy.backoff(attempt))

    async def _dead_letter(self, record: Record, code: str, reason: str) -> None:
        log.warning("dead-lettering %s: %s", record.where, reason)
        # The dead letter must be durable before the record is finished; a Kafka error
        # here is retried like any other bookkeeping step.
        await self._persist(
            record, lambda: self._dead_letters.send(record, code=code, reason=reason)
        )
        metrics.DEAD_LETTERS.labels(self._service, record.topic, code).inc()
