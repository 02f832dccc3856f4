"""The lag gauge adds up the consumers of one subscription."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker
from prometheus_client import REGISTRY

from baton_runtime.metrics import _measure_lag


@dataclass
class FakeConsumer:
    ends: dict[TopicPartition, tuple[int, int]]  # partition -> (high watermark, position)

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    def highwater(self, partition: TopicPartition) -> int:
        return self.ends[partition][0]

    async def position(self, partition: TopicPartition) -> int:
        return self.ends[partition][1]


@dataclass
class FakeSubscriber:
    group_id: str
    consumer: FakeConsumer | None


@dataclass
class FakeBroker:
    subscribers: list[FakeSubscriber] = field(default_factory=list)


def lag(group: str, topic: str) -> float | None:
    return REGISTRY.get_sample_value("baton_consumer_lag", {"group": group, "topic": topic})


async def test_the_consumers_of_a_subscription_add_up() -> None:
    broker = FakeBroker(
        [
            FakeSubscriber("lag-g", FakeConsumer({TopicPartition("lag-t", 0): (10, 4)})),
            FakeSubscriber(
                "lag-g",
                FakeConsumer(
                    {TopicPartition("lag-t", 1): (7, 7), TopicPartition("lag-t", 2): (5, 2)}
                ),
            ),
            FakeSubscriber("lag-other", FakeConsumer({TopicPartition("lag-t", 0): (10, 9)})),
            FakeSubscriber("lag-g", None),  # not started: nothing to add
        ]
    )
    await _measure_lag(cast(KafkaBroker, cast(Any, broker)))
    assert lag("lag-g", "lag-t") == 9
    assert lag("lag-other", "lag-t") == 1
