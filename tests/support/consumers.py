"""A consumer group member of Baton's own kind, for tests of the consuming machinery."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from faststream.kafka import KafkaBroker

from baton_contracts import Event, MessageReceived
from baton_runtime import (
    GRACE_SECONDS,
    KafkaEventPublisher,
    KafkaSettings,
    KeyedConsumer,
    build_broker,
    event_runner,
    subscribe,
)


@dataclass
class Member:
    broker: KafkaBroker
    consumer: KeyedConsumer

    async def start(self) -> None:
        await self.broker.start()
        await self.consumer.start()

    async def stop(self) -> None:
        await self.consumer.stop()
        await self.broker.stop()


def consuming(
    settings: KafkaSettings,
    topic: str,
    seen: list[str],
    *,
    name: str,
    finished: list[str] | None = None,
    gates: dict[str, asyncio.Event] | None = None,
    grace: float = GRACE_SECONDS,
) -> Member:
    """A member of the group named like ``topic`` that notes each thread it starts on in
    ``seen`` and each it finishes in ``finished``; a thread with a gate in ``gates`` waits
    for the gate to open before it finishes."""
    broker = build_broker(settings, client_id=name)

    async def note(event: MessageReceived) -> Sequence[Event]:
        seen.append(event.thread_id)
        gate = (gates or {}).get(event.thread_id)
        if gate is not None:
            await gate.wait()
        if finished is not None:
            finished.append(event.thread_id)
        return ()

    runner = event_runner(broker, KafkaEventPublisher(broker, settings), service=name)
    consumer = subscribe(
        settings,
        runner,
        topic=topic,
        group=topic,
        event_type=MessageReceived,
        handler=note,
        grace=grace,
    )
    return Member(broker, consumer)
