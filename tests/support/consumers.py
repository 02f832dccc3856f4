"""A consumer group of Baton's own kind, for tests of the consuming machinery."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from faststream.kafka import KafkaBroker

from baton_contracts import Event, MessageReceived
from baton_runtime.consumer import EventRunner, KafkaDeadLetters, subscribe
from baton_runtime.kafka import KafkaEventPublisher, build_broker
from baton_runtime.settings import KafkaSettings


def consuming(
    settings: KafkaSettings,
    topic: str,
    seen: list[str],
    *,
    name: str,
    gate: asyncio.Event | None = None,
) -> KafkaBroker:
    """A consumer of ``topic`` in the group of that name that notes each thread it sees;
    with ``gate``, its handler then waits for the gate to open before it finishes."""
    broker = build_broker(settings, client_id=name)

    async def note(event: MessageReceived) -> Sequence[Event]:
        seen.append(event.thread_id)
        if gate is not None:
            await gate.wait()
        return ()

    subscribe(
        broker,
        settings,
        topic=topic,
        group=topic,
        event_type=MessageReceived,
        handler=note,
        runner=EventRunner(
            publisher=KafkaEventPublisher(broker, settings),
            dead_letters=KafkaDeadLetters(broker, service=name),
        ),
    )
    return broker
