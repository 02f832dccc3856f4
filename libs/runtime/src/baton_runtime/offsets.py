"""Committing a consumer's finished offsets together, now and then, instead of per batch.

Committing after every batch costs each consumer an OffsetCommit round trip before its
next poll, and the broker a request: at a steady trickle, where most batches hold one
record, that is a commit per record per service. :class:`FinishedOffsets` notes how far
each partition's records are finished and commits the lot at most every ``interval``
seconds, when its partitions are revoked, and when the subscriber stops.

Only finished records are ever committed, so committing later never loses a record: a
crash redelivers at most the last interval's finished records, and the handled-events
log turns them into replays that change nothing and send nothing twice.

A rebalance waits for the batch in progress (up to a grace period) before it lets its
partitions go. Otherwise their next owner would start on that batch's records while the
old owner is still at them, and both would publish the same events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection, Iterable
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

log = logging.getLogger(__name__)

BATCH_GRACE_SECONDS = 15.0
"""How long a batch in progress may take to finish when its consumer stops or its
partitions are revoked, before it is left to whoever consumes them next."""

REBALANCE_TIMEOUT_MS = int(2 * BATCH_GRACE_SECONDS * 1000)
"""How long a group waits in a rebalance for its members to rejoin: longer than a member
waits for its batch in progress. (aiokafka's default is the session timeout, 10 s.) A
member that died is still dropped after the session timeout, whatever this says."""


class Positioned(Protocol):
    """Where a consumed record sits: ours and aiokafka's records both say."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


class FinishedOffsets(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """The offsets up to which one consumer's records are finished, and their commits.

    Also the consumer's rebalance listener: before a partition is revoked, the batch in
    progress is let finish (for up to ``grace`` seconds) and the finished offsets are
    committed while this consumer still owns it, so its next owner starts right after
    them.
    """

    def __init__(
        self,
        interval: float,
        *,
        grace: float = BATCH_GRACE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._grace = grace
        self._clock = clock
        self._pending: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._committed_at = clock()
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> None:
        """A batch was polled and is being worked on."""
        self._idle.clear()

    def end(self) -> None:
        """The batch is over: its records are finished (:meth:`finish`) or handed back."""
        self._idle.set()

    def finish(self, consumer: AIOKafkaConsumer, records: Iterable[Positioned]) -> None:
        """Note ``records`` (polled by ``consumer``) as finished."""
        self._consumer = consumer
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            self._pending[partition] = max(self._pending.get(partition, 0), record.offset + 1)

    @property
    def due(self) -> bool:
        """Whether finished offsets wait and the interval since the last commit is over."""
        return bool(self._pending) and self._clock() - self._committed_at >= self._interval

    async def commit(self, partitions: Collection[TopicPartition] | None = None) -> None:
        """Commit the finished offsets of ``partitions`` (all by default) that the consumer
        still owns. Those of partitions it lost are dropped: their new owner redoes them."""
        consumer = self._consumer
        if consumer is None or not self._pending:
            return
        if partitions is None:
            self._committed_at = self._clock()
        owned = consumer.assignment()
        offsets: dict[TopicPartition, int] = {}
        for partition in list(self._pending):
            if partitions is None or partition in partitions:
                offset = self._pending.pop(partition)
                if partition in owned:
                    offsets[partition] = offset
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced meanwhile; whoever owns the partitions now redoes them.
            log.info("offsets %s not committed, the group rebalanced: %r", offsets, exc)
        except KafkaError as exc:
            log.warning("committing offsets %s failed, will retry: %r", offsets, exc)
            for partition, offset in offsets.items():
                self._pending[partition] = max(self._pending.get(partition, 0), offset)

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # aiokafka calls this before the consumer rejoins its group, and the group waits
        # for every member to rejoin (up to REBALANCE_TIMEOUT_MS) before it hands
        # partitions out: the batch in progress ends before anyone else can poll its
        # records. No new batch starts meanwhile, since a poll waits for the assignment.
        try:
            await asyncio.wait_for(self._idle.wait(), self._grace)
        except TimeoutError:
            log.warning(
                "a batch of %s is still in progress after %.0f s; its next owner redoes it",
                sorted(map(str, revoked)),
                self._grace,
            )
        await self.commit(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        # A batch that ended during the rebalance may have noted partitions that went
        # elsewhere; committing them later would move their new owner's offsets back.
        self._pending = {p: o for p, o in self._pending.items() if p in assigned}
