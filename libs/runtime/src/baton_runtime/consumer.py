"""Consuming events at least once: decode, handle, publish, then commit.

A subscriber registered through :func:`subscribe` gets the raw Kafka record, decodes it
into its contract model and calls a plain async handler that returns the events to
publish. The offset is committed only after those events are acknowledged by Kafka, so a
crash anywhere in between redelivers the record, and idempotent handlers turn the
redelivery into a no-op.

Failures are sorted three ways:

* poison (undecodable, invalid, or a handler's verdict: :class:`Rejected`, or a domain
  :class:`~baton_runtime.errors.RefusedError` with its code) goes straight to
  ``<topic>.dlq`` with the reason, and the partition moves on;
* infrastructure trouble (MongoDB or Kafka unreachable, timeouts) is retried with capped
  exponential backoff; it is never dead-lettered, since the message itself is fine;
* any other error is retried a bounded number of times, then dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from aiokafka.errors import KafkaError
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from pymongo.errors import ConnectionFailure

from baton_contracts import DecodeError, Event, decode, topics

from . import metrics
from .errors import RefusedError
from .kafka import EventPublisher
from .outputs import HandledEvents
from .settings import KafkaSettings

E = TypeVar("E", bound=Event)
Handler = Callable[[E], Awaitable[Sequence[Event]]]
# Whether a service works on an event at all (e.g. only routes to its own handler). A pure
# decision on the event alone: a record it declines is committed without any other work.
Wants = Callable[[E], bool]

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
    transient_budget: float = 120.0
    """Seconds of retrying infrastructure errors before the record is handed back to Kafka
    (seek back and redeliver), so a consumer stuck in an outage still polls its group."""

    def backoff(self, attempt: int) -> float:
        delay = min(self.max_backoff, self.initial_backoff * 2 ** (attempt - 1))
        return float(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security


@dataclass(frozen=True)
class Record:
    """The parts of a consumed Kafka record a dead letter needs."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


class DeadLetters(Protocol):
    async def send(self, record: Record, *, code: str, reason: str) -> None: ...


class KafkaDeadLetters:
    """Sends the original bytes to ``<topic>.dlq`` with the reason in headers."""

    def __init__(self, broker: KafkaBroker, *, service: str) -> None:
        self._broker = broker
        self._service = service

    async def send(self, record: Record, *, code: str, reason: str) -> None:
        await self._broker.publish(
            record.value,
            topics.dead_letter_topic(record.topic),
            key=record.key,
            headers={
                "dlq-reason": reason[:2000],
                "dlq-error-code": code,
                "dlq-original-topic": record.topic,
                "dlq-original-partition": str(record.partition),
                "dlq-original-offset": str(record.offset),
                "dlq-service": self._service,
                "dlq-failed-at": datetime.now(UTC).isoformat(),
            },
        )


class EventRunner:
    """Runs one record through decode, handler and publish, with the retry rules above."""

    def __init__(
        self,
        *,
        publisher: EventPublisher,
        dead_letters: DeadLetters,
        policy: RetryPolicy | None = None,
        handled: HandledEvents | None = None,
        service: str = "baton",
    ) -> None:
        self._publisher = publisher
        self._dead_letters = dead_letters
        self._policy = policy or RetryPolicy()
        self._handled = handled
        self._service = service

    @classmethod
    def for_service(
        cls,
        broker: KafkaBroker,
        publisher: EventPublisher,
        *,
        service: str,
        handled: HandledEvents | None = None,
    ) -> EventRunner:
        """The runner of one service: dead letters go to Kafka, labelled with ``service``."""
        return cls(
            publisher=publisher,
            dead_letters=KafkaDeadLetters(broker, service=service),
            service=service,
            handled=handled,
        )

    def watch(self, topic: str) -> None:
        """Start ``topic``'s counters at zero: a counter that appears with its first dead
        letter would hide that dead letter from increase() and from the alert on it."""
        for outcome in metrics.EVENT_OUTCOMES:
            metrics.EVENTS_HANDLED.labels(self._service, topic, outcome)
        for kind in metrics.RETRY_KINDS:
            metrics.HANDLER_RETRIES.labels(self._service, topic, kind)

    async def run(
        self,
        record: Record,
        event_type: type[E],
        handler: Handler[E],
        wants: Wants[E] | None = None,
    ) -> None:
        with metrics.HANDLER_SECONDS.labels(self._service, record.topic).time():
            outcome = await self._run(record, event_type, handler, wants)
        metrics.EVENTS_HANDLED.labels(self._service, record.topic, outcome).inc()

    async def _run(
        self, record: Record, event_type: type[E], handler: Handler[E], wants: Wants[E] | None
    ) -> str:
        try:
            event = decode(record.value, expect=event_type)
        except DecodeError as exc:
            await self._dead_letter(record, exc.code, str(exc))
            return "dead_lettered"
        if wants is not None and not wants(event):
            return "skipped"

        attempt = 0
        transient_since: float | None = None
        loop = asyncio.get_running_loop()
        while True:
            attempt += 1
            try:
                return await self._handle(event, handler)
            except Rejected as exc:
                await self._dead_letter(record, exc.code, exc.reason)
                return "dead_lettered"
            except RefusedError as exc:  # the domain's own refusal: the same verdict
                await self._dead_letter(record, exc.code, exc.message)
                return "dead_lettered"
            except TRANSIENT_ERRORS as exc:
                transient_since = transient_since or loop.time()
                if loop.time() - transient_since > self._policy.transient_budget:
                    raise  # the subscriber's NACK policy seeks back: redelivery later
                metrics.HANDLER_RETRIES.labels(self._service, record.topic, "transient").inc()
                log.warning(
                    "transient failure on %s[%d]@%d (attempt %d): %r",
                    record.topic,
                    record.partition,
                    record.offset,
                    attempt,
                    exc,
                )
            except Exception as exc:
                if attempt >= self._policy.max_attempts:
                    log.exception(
                        "giving up on %s[%d]@%d", record.topic, record.partition, record.offset
                    )
                    await self._dead_letter(
                        record,
                        "handler_failed",
                        f"failed {attempt} times; last error: {type(exc).__name__}: {exc}",
                    )
                    return "dead_lettered"
                metrics.HANDLER_RETRIES.labels(self._service, record.topic, "error").inc()
                log.warning("handler failed (attempt %d): %r", attempt, exc)
            await asyncio.sleep(self._policy.backoff(attempt))

    async def _handle(self, event: E, handler: Handler[E]) -> str:
        if self._handled is None:
            await self._publisher.publish(await handler(event))
            return "handled"
        # With a log of handled events, a redelivered event is not worked on again: its
        # saved output is published if the first publish may not have finished, else nothing.
        earlier = await self._handled.get(event.event_id)
        if earlier is not None:
            if not earlier.published:
                await self._publisher.publish(earlier.events)
                await self._handled.mark_published(event.event_id)
            return "replayed"
        produced = list(await handler(event))
        if not produced:
            # Nothing to publish: recorded as published at once, one write instead of two.
            await self._handled.save(event.event_id, produced, published=True)
            return "handled"
        await self._handled.save(event.event_id, produced)
        await self._publisher.publish(produced)
        await self._handled.mark_published(event.event_id)
        return "handled"

    async def _dead_letter(self, record: Record, code: str, reason: str) -> None:
        log.warning(
            "dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason
        )
        # The dead letter must be durable before the offset is committed; a Kafka error
        # here propagates and the record is redelivered.
        await self._dead_letters.send(record, code=code, reason=reason)
        metrics.DEAD_LETTERS.labels(self._service, record.topic, code).inc()


async def as_record(message: StreamMessage[Any]) -> Record:
    """The Kafka record behind a FastStream message."""
    raw: Any = message.raw_message
    return Record(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=raw.key,
        value=raw.value if raw.value is not None else b"",
        headers=tuple(raw.headers or ()),
    )


def subscribe(
    broker: KafkaBroker,
    settings: KafkaSettings,
    *,
    topic: str,
    group: str,
    event_type: type[E],
    handler: Handler[E],
    runner: EventRunner,
    wants: Wants[E] | None = None,
) -> None:
    """Register ``handler`` for ``event_type`` on ``topic`` in consumer group ``group``;
    with ``wants``, only for the events it accepts (the others are committed untouched)."""
    runner.watch(settings.topic(topic))

    @broker.subscriber(
        settings.topic(topic),
        group_id=settings.group(group),
        # Commit only after the handler and its publishes succeeded; on an escaped
        # (infrastructure) error seek back so the record is delivered again.
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        # Several consumers of the group in this process, each with partitions of its own
        # and each committing its own offsets: partitions proceed in parallel, and the
        # records of one partition in order.
        max_workers=settings.consumer_workers,
        title=f"{group}:{topic}",
        # The handler gets the record as it came (see as_record), not FastStream's JSON
        # decoding of it: the runner decodes into the contract model itself.
        decoder=as_record,
    )
    async def consume(record: Record) -> None:
        await runner.run(record, event_type, handler, wants)

    del consume  # registered on the broker; nothing else refers to it
