"""Which offset of each partition may be committed, when records finish out of order.

Records of different threads finish in any order, so a partition's committed offset is
the offset of its lowest unfinished record (or one past the last record taken, when all
are finished). A crash then redelivers only records that were unfinished, or finished
above such a gap; the handled-events log turns the latter into replays.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from aiokafka import TopicPartition


class PartitionOffsets:
    """The records of one partition between being taken from Kafka and being finished."""

    def __init__(self) -> None:
        self._open: deque[int] = deque()  # taken, in offset order, the finished ones included
        self._finished: set[int] = set()
        self._next: int | None = None  # the offset to commit once everything taken is finished

    def take(self, offset: int) -> None:
        if self._open and offset <= self._open[-1]:
            raise ValueError(f"offset {offset} taken after {self._open[-1]}")
        self._open.append(offset)

    def finish(self, offset: int) -> None:
        self._finished.add(offset)
        while self._open and self._open[0] in self._finished:
            done = self._open.popleft()
            self._finished.discard(done)
            self._next = done + 1

    @property
    def in_flight(self) -> int:
        """Records taken and not finished."""
        return len(self._open) - len(self._finished)

    @property
    def committable(self) -> int | None:
        """The offset to commit: the lowest unfinished record's, else one past the last
        record taken; None before any record was finished in order."""
        return self._open[0] if self._open else self._next


class OffsetTracker:
    """The records one consumer has taken, per partition, and the offsets to commit."""

    def __init__(self) -> None:
        self._partitions: dict[TopicPartition, PartitionOffsets] = {}
        self._committed: dict[TopicPartition, int] = {}

    def take(self, partition: TopicPartition, offset: int) -> None:
        self._partitions.setdefault(partition, PartitionOffsets()).take(offset)

    def finish(self, partition: TopicPartition, offset: int) -> None:
        offsets = self._partitions.get(partition)
        if offsets is not None:  # None: the partition was revoked meanwhile
            offsets.finish(offset)

    @property
    def in_flight(self) -> int:
        return sum(p.in_flight for p in self._partitions.values())

    def in_flight_of(self, partitions: Iterable[TopicPartition]) -> int:
        return sum(self._partitions[p].in_flight for p in partitions if p in self._partitions)

    def to_commit(
        self, partitions: Iterable[TopicPartition] | None = None
    ) -> dict[TopicPartition, int]:
        """The offsets that moved since they were last committed (:meth:`committed`), of
        ``partitions`` (all by default)."""
        chosen = self._partitions if partitions is None else partitions
        offsets: dict[TopicPartition, int] = {}
        for partition in chosen:
            state = self._partitions.get(partition)
            offset = state.committable if state is not None else None
            if offset is not None and offset != self._committed.get(partition):
                offsets[partition] = offset
        return offsets

    def committed(self, offsets: dict[TopicPartition, int]) -> None:
        self._committed.update(offsets)

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Drop what is known of ``partitions`` (revoked: their next owner starts at the
        committed offset)."""
        for partition in partitions:
            self._partitions.pop(partition, None)
            self._committed.pop(partition, None)

    @property
    def partitions(self) -> set[TopicPartition]:
        return set(self._partitions)
