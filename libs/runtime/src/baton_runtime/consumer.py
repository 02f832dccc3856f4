"""Consuming events at least once: decode, handle, publish, then commit.

A subscriber registered through :func:`subscribe` gets the raw Kafka records, a batch of
whatever has arrived at a time, decodes each into its contract model and calls a plain
async handler that returns the events to publish. A batch's offsets become committable
only after those events are acknowledged by Kafka, so a crash anywhere in between
redelivers the records, and idempotent handlers turn the redelivery into a no-op. Finished
offsets are committed together now and then (:mod:`baton_runtime.offsets`).

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
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
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
from .kafka import EventPublisher, ServiceBatchSubscriber, adopt
from .offsets import REBALANCE_TIMEOUT_MS, FinishedOffsets
from .outputs import Handled, HandledEvents, Outcome
from .settings import KafkaSettings

E = TypeVar("E", bound=Event)
T = TypeVar("T")
Handler = Callable[[E], Awaitable[Sequence[Event]]]
# Whether a service works on an event at all (e.g. only routes to its own handler). A pure
# decision on the event alone: a record it declines is committed without any other work.
Wants = Callable[[E], bool]

log = logging.getLogger(__name__)

MODEL_WORKERS = 3
"""Consumers per subscription whose handlers wait on a model, seconds per call: a batch is
done when its slowest record is, and with one consumer per partition that holds up only its
own partition. Handlers that only talk to Kafka and MongoDB have one consumer, which takes
bigger batches and so fewer bookkeeping writes and requests per record."""

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


@dataclass
class _Batch:
    """What working on one batch of records has decided so far."""

    outcomes: dict[int, str] = field(default_factory=dict)
    """Each record's outcome, by its index in the batch."""
    to_save: list[Outcome] = field(default_factory=list)
    """New outputs for the handled-events log."""
    to_publish: list[tuple[uuid.UUID, Sequence[Event]]] = field(default_factory=list)
    """Events to publish, in the order they were produced, under the event that caused them."""
    seen: set[uuid.UUID] = field(default_factory=set)
    """Event ids handled in this batch: a record repeated within the batch is a replay."""


class EventRunner:
    """Runs batches of records through decode, handler and publish, with the retry rules
    above.

    The records of one key (one thread) are worked on in order; different keys at the same
    time. The handled-events log is read once per batch and written twice (save, then mark
    published, around the publish), whatever the number of records.
    """

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
        """Run a single record (a batch of one)."""
        await self.run_batch((record,), event_type, handler, wants)

    async def run_batch(
        self,
        records: Sequence[Record],
        event_type: type[E],
        handler: Handler[E],
        wants: Wants[E] | None = None,
    ) -> None:
        """Work on ``records`` (consumed together, in offset order per partition).

        Returns once every record has its outcome and every produced event is acknowledged
        by Kafka; only then may the offsets be committed. An error that escapes (the
        infrastructure down for longer than the transient budget) leaves the batch to be
        delivered again, and what was finished is recognised then by the log.
        """
        started = time.perf_counter()
        batch = _Batch()
        try:
            await self._run_batch(records, event_type, handler, wants, batch)
        finally:
            elapsed = time.perf_counter() - started
            for index, outcome in batch.outcomes.items():
                topic = records[index].topic
                metrics.HANDLER_SECONDS.labels(self._service, topic).observe(elapsed)
                metrics.EVENTS_HANDLED.labels(self._service, topic, outcome).inc()

    async def _run_batch(
        self,
        records: Sequence[Record],
        event_type: type[E],
        handler: Handler[E],
        wants: Wants[E] | None,
        batch: _Batch,
    ) -> None:
        by_key: dict[tuple[str, int, bytes | None], list[tuple[int, Record, E]]] = {}
        for index, record in enumerate(records):
            try:
                event = decode(record.value, expect=event_type)
            except DecodeError as exc:
                await self._dead_letter(record, exc.code, str(exc))
                batch.outcomes[index] = "dead_lettered"
                continue
            if wants is not None and not wants(event):
                batch.outcomes[index] = "skipped"
                continue
            by_key.setdefault((record.topic, record.partition, record.key), []).append(
                (index, record, event)
            )
        if not by_key:
            return
        topic = records[0].topic
        earlier: dict[uuid.UUID, Handled] = {}
        if self._handled is not None:
            handled = self._handled
            ids = [event.event_id for group in by_key.values() for _, _, event in group]
            earlier = await self._persist(topic, lambda: handled.get_many(ids))
        results = await asyncio.gather(
            *(self._run_key(group, handler, earlier, batch) for group in by_key.values()),
            return_exceptions=True,
        )
        # What was finished is saved and published even if one key failed for good, so the
        # redelivery of the batch finds it done.
        await self._conclude(topic, batch)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _run_key(
        self,
        group: Sequence[tuple[int, Record, E]],
        handler: Handler[E],
        earlier: dict[uuid.UUID, Handled],
        batch: _Batch,
    ) -> None:
        """The records of one key, one after the other."""
        for index, record, event in group:
            before = earlier.get(event.event_id)
            if before is not None or event.event_id in batch.seen:
                # A redelivery is not worked on again: its saved output is published if the
                # first publish may not have finished, else nothing.
                if before is not None and not before.published:
                    batch.to_publish.append((event.event_id, before.events))
                batch.outcomes[index] = "replayed"
                continue
            produced = await self._attempt(record, event, handler)
            if produced is None:
                batch.outcomes[index] = "dead_lettered"
                continue
            batch.seen.add(event.event_id)
            # Nothing to publish: recorded as published at once, so it needs no mark.
            batch.to_save.append(Outcome(event.event_id, produced, published=not produced))
            if produced:
                batch.to_publish.append((event.event_id, produced))
            batch.outcomes[index] = "handled"

    async def _attempt(self, record: Record, event: E, handler: Handler[E]) -> list[Event] | None:
        """The handler's events, after retries; None once the record is dead-lettered."""
        where = f"{record.topic}[{record.partition}]@{record.offset}"
        try:
            return list(await self._retrying(record.topic, where, lambda: handler(event)))
        except Rejected as exc:
            await self._dead_letter(record, exc.code, exc.reason)
        except RefusedError as exc:  # the domain's own refusal: the same verdict
            await self._dead_letter(record, exc.code, exc.message)
        except TRANSIENT_ERRORS:
            raise  # past the transient budget: the subscriber seeks back (rewind)
        except Exception as exc:
            log.exception("giving up on %s", where)
            await self._dead_letter(
                record,
                "handler_failed",
                f"failed {self._policy.max_attempts} times; last error: "
                f"{type(exc).__name__}: {exc}",
            )
        return None

    async def _conclude(self, topic: str, batch: _Batch) -> None:
        """Save the new outputs, publish, then mark them published."""
        handled = self._handled
        if handled is not None:
            await self._persist(topic, lambda: handled.save_many(batch.to_save))
        if not batch.to_publish:
            return
        events = [event for _, produced in batch.to_publish for event in produced]
        await self._persist(topic, lambda: self._publisher.publish(events))
        if handled is not None:
            published = [event_id for event_id, _ in batch.to_publish]
            await self._persist(topic, lambda: handled.mark_published(published))

    async def _persist(self, topic: str, step: Callable[[], Awaitable[T]]) -> T:
        """One bookkeeping step of a batch (the log, the publish). It belongs to no single
        record, so it is never dead-lettered: when retries run out the error escapes and the
        batch is delivered again."""
        return await self._retrying(topic, f"{topic} (bookkeeping)", step)

    async def _retrying(self, topic: str, where: str, step: Callable[[], Awaitable[T]]) -> T:
        """``step``'s result, retried with backoff: infrastructure errors for as long as the
        transient budget lasts, other errors up to ``max_attempts`` times; then the last
        error is raised. A verdict (:class:`Rejected`, a domain refusal) is never retried."""
        loop = asyncio.get_running_loop()
        transient_since: float | None = None
        attempt = 0
        while True:
            attempt += 1
            try:
                return await step()
            except (Rejected, RefusedError):
                raise
            except TRANSIENT_ERRORS as exc:
                transient_since = transient_since or loop.time()
                if loop.time() - transient_since > self._policy.transient_budget:
                    raise
                kind = "transient"
                log.warning("transient failure on %s (attempt %d): %r", where, attempt, exc)
            except Exception as exc:
                if attempt >= self._policy.max_attempts:
                    raise
                kind = "error"
                log.warning("failure on %s (attempt %d): %r", where, attempt, exc)
            metrics.HANDLER_RETRIES.labels(self._service, topic, kind).inc()
            await asyncio.sleep(self._policy.backoff(attempt))

    async def _dead_letter(self, record: Record, code: str, reason: str) -> None:
        log.warning(
            "dead-lettering %s[%d]@%d: %s", record.topic, record.partition, record.offset, reason
        )
        # The dead letter must be durable before the offset is committed; a Kafka error
        # here propagates and the record is redelivered.
        await self._dead_letters.send(record, code=code, reason=reason)
        metrics.DEAD_LETTERS.labels(self._service, record.topic, code).inc()


async def as_records(message: StreamMessage[Any]) -> tuple[Record, ...]:
    """The Kafka records behind a FastStream batch message."""
    return tuple(
        Record(
            topic=raw.topic,
            partition=raw.partition,
            offset=raw.offset,
            key=raw.key,
            value=raw.value if raw.value is not None else b"",
            headers=tuple(raw.headers or ()),
        )
        for raw in message.raw_message
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
    workers: int = 1,
    pickup_ms: int | None = None,
) -> None:
    """Register ``handler`` for ``event_type`` on ``topic`` in consumer group ``group``;
    with ``wants``, only for the events it accepts (the others are committed untouched).

    ``workers`` consumers share the subscription unless ``KAFKA_CONSUMER_WORKERS`` says how
    many (see :data:`MODEL_WORKERS`). A record is picked up as soon as it arrives, or with
    ``pickup_ms`` within that long: Kafka then answers a consumer's fetch once that time is
    up (or a megabyte has arrived), so a subscription whose work waits on people anyway
    wakes a few times a second under load rather than once per record."""
    runner.watch(settings.topic(topic))

    # Each consumer of the group in this process has partitions of its own and commits its
    # own offsets: with several, one partition's batch in progress does not hold up the
    # others.
    for worker in range(settings.consumer_workers or workers):
        offsets = FinishedOffsets(settings.commit_interval_ms / 1000)
        subscriber = adopt(
            broker.subscriber(
                settings.topic(topic),
                group_id=settings.group(group),
                # FastStream neither commits nor seeks: consume() reports each batch to the
                # subscriber, which commits finished offsets now and then (FinishedOffsets)
                # and, on an escaped (infrastructure) error, seeks back so the batch is
                # delivered again.
                ack_policy=AckPolicy.MANUAL,
                listener=offsets,
                # A rebalance waits for each member's batch in progress (FinishedOffsets).
                rebalance_timeout_ms=REBALANCE_TIMEOUT_MS,
                auto_offset_reset="earliest",
                # Whatever has arrived, up to a limit, is worked on together: one key's
                # records in order, different keys at once (EventRunner.run_batch). A poll
                # returns as soon as records arrive, else after batch_timeout_ms (without
                # FastStream's pause after an empty poll: ServiceBatchSubscriber).
                batch=True,
                max_records=settings.consumer_batch_max,
                batch_timeout_ms=settings.consumer_poll_ms,
                fetch_min_bytes=1 if pickup_ms is None else 1024 * 1024,
                fetch_max_wait_ms=500 if pickup_ms is None else pickup_ms,
                title=f"{group}:{topic}:{worker}",
                # The handler gets the records as they came (see as_records), not
                # FastStream's JSON decoding of them: the runner decodes into the contract
                # model itself.
                decoder=as_records,
            ),
            offsets,
        )
        subscriber(_consumer_of(subscriber, runner, event_type, handler, wants))


def _consumer_of(
    subscriber: ServiceBatchSubscriber,
    runner: EventRunner,
    event_type: type[E],
    handler: Handler[E],
    wants: Wants[E] | None,
) -> Callable[[tuple[Record, ...]], Awaitable[None]]:
    """What ``subscriber`` calls with each batch it polls."""

    async def consume(records: tuple[Record, ...]) -> None:
        try:
            await runner.run_batch(records, event_type, handler, wants)
        except BaseException:
            subscriber.rewind(records)
            raise
        await subscriber.finished(records)

    return consume
