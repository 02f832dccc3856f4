"""The offset tracker: each partition commits just below its lowest unfinished record."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition

from baton_runtime._offsets import OffsetTracker, PartitionOffsets

P0 = TopicPartition("t", 0)
P1 = TopicPartition("t", 1)


def test_nothing_is_committable_before_a_record_is_taken() -> None:
    assert PartitionOffsets().committable is None
    assert OffsetTracker().to_commit() == {}


def test_an_unfinished_record_holds_the_offset_at_itself() -> None:
    offsets = PartitionOffsets()
    for offset in (10, 11, 12):
        offsets.take(offset)
    assert offsets.committable == 10
    offsets.finish(11)
    offsets.finish(12)
    assert offsets.committable == 10  # 11 and 12 are done, but 10 is not: a gap
    assert offsets.in_flight == 1
    offsets.finish(10)
    assert offsets.committable == 13  # all done: one past the last taken
    assert offsets.in_flight == 0


def test_gaps_in_the_log_are_skipped() -> None:
    # Compacted or transactional logs have offsets that are never delivered.
    offsets = PartitionOffsets()
    offsets.take(3)
    offsets.take(7)
    offsets.finish(3)
    assert offsets.committable == 7
    offsets.finish(7)
    assert offsets.committable == 8


def test_offsets_must_be_taken_in_order() -> None:
    offsets = PartitionOffsets()
    offsets.take(5)
    with pytest.raises(ValueError, match="taken after"):
        offsets.take(5)


def test_partitions_are_independent_and_only_moved_offsets_are_committed() -> None:
    tracker = OffsetTracker()
    tracker.take(P0, 0)
    tracker.take(P0, 1)
    tracker.take(P1, 0)
    tracker.finish(P0, 1)
    tracker.finish(P1, 0)
    assert tracker.in_flight == 1
    assert tracker.to_commit() == {P0: 0, P1: 1}
    tracker.committed({P0: 0, P1: 1})
    assert tracker.to_commit() == {}
    tracker.finish(P0, 0)
    assert tracker.to_commit() == {P0: 2}
    assert tracker.to_commit([P1]) == {}


def test_a_revoked_partition_is_forgotten_and_later_finishes_are_ignored() -> None:
    tracker = OffsetTracker()
    tracker.take(P0, 4)
    tracker.take(P1, 9)
    assert tracker.in_flight_of([P0]) == 1
    tracker.forget([P0])
    tracker.finish(P0, 4)  # a record that ended after its partition went elsewhere
    assert tracker.partitions == {P1}
    assert tracker.to_commit() == {P1: 9}
