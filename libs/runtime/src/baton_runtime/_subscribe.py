"""Wiring a handler to a topic: what a composition root calls."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from ._consumer import GRACE_SECONDS, KeyedConsumer
from ._dead_letters import KafkaDeadLetters
from ._handled import HandledLog
from ._kafka import EventPublisher
from ._records import Record
from ._runner import E, EventRunner, Handler, Subscription, Wants
from ._settings import KafkaSettings


def event_runner(
    broker: KafkaBroker,
    publisher: EventPublisher,
    *,
    service: str,
    handled: HandledLog | None = None,
) -> EventRunner:
    """The runner of one service: dead letters go to Kafka, labelled with ``service``; with
    ``handled``, each event's output is saved before it is published (see
    :class:`~baton_runtime.HandledEvents`)."""
    return EventRunner(
        publisher=publisher,
        dead_letters=KafkaDeadLetters(broker, service=service),
        handled=handled,
        service=service,
    )


def subscribe(
    settings: KafkaSettings,
    runner: EventRunner,
    *,
    topic: str,
    group: str,
    event_type: type[E],
    handler: Handler[E],
    wants: Wants[E] | None = None,
    pickup_ms: int | None = None,
    grace: float = GRACE_SECONDS,
) -> KeyedConsumer:
    """A consumer that runs ``handler`` on each ``event_type`` of ``topic`` in consumer
    group ``group``; with ``wants``, only on the events it accepts (the others are finished
    untouched). Start it with the service (``service_app(consumers=...)``)."""
    subscription = Subscription(topic, event_type, handler, wants, settings.group(group))
    runner.watch(settings.topic(topic))

    async def process(record: Record) -> None:
        await runner.run(record, subscription)

    return KeyedConsumer(
        settings,
        topic=topic,
        group=group,
        process=process,
        service=runner.service,
        pickup_ms=pickup_ms,
        grace=grace,
    )
