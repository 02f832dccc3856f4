"""One subscription's Kafka consumer: key-ordered, concurrent, committed below the lowest
unfinished record.

The poll loop takes records as long as the in-flight window has room and hands each to
:class:`~baton_runtime._keyed.KeyedWork`: a record starts as soon as the previous record of
its own thread is done, whatever other threads are doing. When the window is full every
partition is paused, so the consumer keeps polling (and stays in its group) without taking
more; a finished record resumes them.

Each partition's committed offset is the offset of its lowest unfinished record
(:mod:`baton_runtime._offsets`), committed at most every ``KAFKA_COMMIT_INTERVAL_MS``, when
partitions are revoked and when the consumer stops.

Revocation and shutdown wait for the records in progress for up to a grace period, then
cancel what is still running: those records stay uncommitted and whoever consumes the
partition next works on them again, which the handlers' idempotency makes a replay. Records
waiting behind a running one are dropped at once, for the same next owner. The group waits
for that (its rebalance timeout is longer than the grace), so two owners never work on the
same record at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from ._kafka import client_security_options
from ._keyed import KeyedWork
from ._metrics import CONSUMER_LAG, CONSUMER_PARTITIONS, CONSUMER_RECORDS
from ._offsets import OffsetTracker
from ._records import Record
from ._settings import KafkaSettings

log = logging.getLogger(__name__)

GRACE_SECONDS = 15.0
"""How long records in progress may take to finish when their consumer stops or their
partitions are revoked, before they are left to whoever consumes the partitions next."""

REBALANCE_TIMEOUT_MS = int(2 * GRACE_SECONDS * 1000)
"""How long the group waits in a rebalance for its members to rejoin: longer than a member
waits for its records in progress. (aiokafka's default is the session timeout, 10 s.) A
member that died is still dropped after the session timeout."""

POLL_RETRY_S = 1.0


class KeyedConsumer(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Consumes ``topic`` in ``group`` and runs ``process`` on each record, key-ordered.

    ``process`` must not raise for a record it has finished with (dead-lettered included);
    what it raises is logged and the record tried again. With ``pickup_ms`` a fetch waits up
    to that long for a megabyte of records, so a subscription whose work waits on people
    wakes a few times a second under load rather than once per record.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        topic: str,
        group: str,
        process: Callable[[Record], Awaitable[None]],
        service: str,
        pickup_ms: int | None = None,
        grace: float = GRACE_SECONDS,
        client: Callable[[], AIOKafkaConsumer] | None = None,
    ) -> None:
        self.topic = settings.topic(topic)
        self.group = settings.group(group)
        self._settings = settings
        self._service = service
        self._pickup_ms = pickup_ms
        self._grace = grace
        self._client = client or self._kafka_consumer
        self._window = settings.consumer_max_in_flight
        self._tracker = OffsetTracker()
        self._work = KeyedWork(process, finished=self._finished, name=f"{service}:{topic}")
        self._consumer: AIOKafkaConsumer | None = None
        self._poller: asyncio.Task[None] | None = None
        self._committed_at = time.monotonic()
        gauge = CONSUMER_RECORDS.labels
        gauge(service, self.topic, "running").set_function(lambda: self._work.running)
        gauge(service, self.topic, "queued").set_function(lambda: self._work.queued)
        CONSUMER_PARTITIONS.labels(self.group, self.topic).set_function(lambda: self.partitions)

    async def start(self) -> None:
        """Join the group and start taking records (returns once the consumer has joined)."""
        consumer = self._client()
        consumer.subscribe([self.topic], listener=self)
        await consumer.start()
        self._consumer = consumer
        self._poller = asyncio.create_task(self._poll(consumer), name=f"poll:{self.topic}")

    def _kafka_consumer(self) -> AIOKafkaConsumer:
        settings = self._settings
        return AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers.split(","),
            group_id=self.group,
            client_id=self._service,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            rebalance_timeout_ms=REBALANCE_TIMEOUT_MS,
            fetch_min_bytes=1 if self._pickup_ms is None else 1024 * 1024,
            fetch_max_wait_ms=500 if self._pickup_ms is None else self._pickup_ms,
            **client_security_options(settings),
        )

    async def stop(self) -> None:
        """Stop taking records, let those in progress finish (up to the grace period),
        commit, and leave the group."""
        consumer = self._consumer
        if consumer is None:
            return
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        abandoned = await self._work.settle(None, grace=self._grace)
        if abandoned:
            log.warning(
                "%s: %d record(s) unfinished at shutdown; the next consumer redoes them",
                self.topic,
                abandoned,
            )
        await self._commit()
        self._consumer = None
        await consumer.stop()

    @property
    def pickup_ms(self) -> int | None:
        return self._pickup_ms

    @property
    def in_flight(self) -> int:
        return self._tracker.in_flight

    @property
    def partitions(self) -> int:
        """The partitions of the topic this consumer has now (none until it has joined)."""
        consumer = self._consumer
        return 0 if consumer is None else len(consumer.assignment())

    async def measure_lag(self) -> None:
        """Records of this subscription not yet taken, summed over its partitions."""
        consumer = self._consumer
        if consumer is None:
            return
        lag = 0
        for partition in consumer.assignment():
            highwater = consumer.highwater(partition)
            if highwater is not None:
                lag += max(0, highwater - await consumer.position(partition))
        CONSUMER_LAG.labels(group=self.group, topic=self.topic).set(lag)

    # ------------------------------------------------------------------ the poll loop

    async def _poll(self, consumer: AIOKafkaConsumer) -> None:
        poll_ms = self._settings.consumer_poll_ms
        while True:
            try:
                room = self._window - self._tracker.in_flight
                batches = await consumer.getmany(timeout_ms=poll_ms, max_records=max(1, room))
                # Nothing is awaited from here to the submissions: a rebalance cannot slip in
                # between taking a record and noting it.
                for partition, records in batches.items():
                    for raw in records:
                        self._tracker.take(partition, raw.offset)
                        self._work.submit(Record.of(raw))
                self._backpressure()
                if self._commit_due():
                    await self._commit()
            except KafkaError as exc:
                log.warning("%s: polling failed, trying again: %r", self.topic, exc)
                await asyncio.sleep(POLL_RETRY_S)
            except Exception:
                # The loop must outlive anything: a consumer that stops polling silently
                # would hold its partitions and never work on them.
                log.exception("%s: the poll loop failed, trying again", self.topic)
                await asyncio.sleep(POLL_RETRY_S)

    def _finished(self, record: Record) -> None:
        self._tracker.finish(TopicPartition(record.topic, record.partition), record.offset)
        self._backpressure()

    def _backpressure(self) -> None:
        """Pause every partition while the window is full; resume once it has room."""
        consumer = self._consumer
        if consumer is None:
            return
        if self._tracker.in_flight >= self._window:
            unpaused = consumer.assignment() - consumer.paused()
            if unpaused:
                consumer.pause(*unpaused)
        else:
            paused = consumer.paused()
            if paused:
                consumer.resume(*paused)

    # ------------------------------------------------------------------ commits

    def _commit_due(self) -> bool:
        interval = self._settings.commit_interval_ms / 1000
        return time.monotonic() - self._committed_at >= interval

    async def _commit(self, partitions: Collection[TopicPartition] | None = None) -> None:
        """Commit the offsets that moved, of ``partitions`` (all by default) the consumer
        still owns."""
        consumer = self._consumer
        if consumer is None:
            return
        if partitions is None:
            self._committed_at = time.monotonic()
        owned = consumer.assignment()
        offsets = {p: o for p, o in self._tracker.to_commit(partitions).items() if p in owned}
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced meanwhile; whoever owns the partitions now redoes them.
            log.info(
                "%s: offsets %s not committed, the group rebalanced: %r", self.topic, offsets, exc
            )
        except KafkaError as exc:
            log.warning("%s: committing %s failed, will retry: %r", self.topic, offsets, exc)
        else:
            self._tracker.committed(offsets)

    # ------------------------------------------------------------------ rebalances

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # aiokafka calls this before the consumer rejoins, and getmany() returns nothing
        # until the new assignment: the records in progress end (or are cancelled) and
        # their offsets are committed while this consumer still owns the partitions.
        if not revoked:
            return
        abandoned = await self._work.settle(revoked, grace=self._grace)
        if abandoned:
            log.warning(
                "%s: %d record(s) of revoked partitions left unfinished; their next owner "
                "redoes them",
                self.topic,
                abandoned,
            )
        await self._commit(revoked)
        self._tracker.forget(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # New partitions start at their committed offsets, unpaused.
        self._backpressure()
