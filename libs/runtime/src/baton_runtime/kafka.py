"""Kafka wiring: the broker, topic naming, and publishing events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any, Literal, Protocol, TypedDict, cast

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from prometheus_client import REGISTRY

from baton_contracts import Event, encode
from baton_contracts.topics import dead_letter_topic

from .offsets import BATCH_GRACE_SECONDS, FinishedOffsets, Positioned
from .settings import KafkaSettings


def kafka_security(settings: KafkaSettings) -> BaseSecurity | None:
    """FastStream security options for ``settings``; None for plain connections."""
    ssl_context = None
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        cafile = str(settings.ssl_ca_file) if settings.ssl_ca_file else None
        ssl_context = ssl.create_default_context(cafile=cafile)
    if settings.security_protocol.startswith("SASL"):
        username = settings.sasl_username or ""
        password = settings.sasl_password.get_secret_value() if settings.sasl_password else ""
        sasl = {
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }[settings.sasl_mechanism or "PLAIN"]
        return sasl(username, password, ssl_context=ssl_context, use_ssl=ssl_context is not None)
    if ssl_context is not None:
        return BaseSecurity(ssl_context=ssl_context)
    return None


def client_security_options(settings: KafkaSettings) -> dict[str, Any]:
    """The same security options in aiokafka's own keyword arguments (admin client)."""
    options: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        cafile = str(settings.ssl_ca_file) if settings.ssl_ca_file else None
        options["ssl_context"] = ssl.create_default_context(cafile=cafile)
    if settings.security_protocol.startswith("SASL"):
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        )
    return options


async def ensure_topics(settings: KafkaSettings, names: Iterable[str]) -> None:
    """Create ``names`` (and their dead-letter topics) if missing.

    Consumers that subscribe before a topic exists only notice it at their next metadata
    refresh, minutes later; creating topics up front makes a fresh deployment answer at once.
    """
    if not settings.create_topics:
        return
    wanted = {settings.topic(n) for n in names}
    wanted |= {dead_letter_topic(t) for t in wanted}
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers.split(","),
        client_id="baton-topic-setup",
        **client_security_options(settings),
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(wanted - existing)
        if missing:
            # Another service may create some of them at the same moment; that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=settings.topic_partitions,
                            replication_factor=settings.topic_replication_factor,
                        )
                        for name in missing
                    ]
                )
    finally:
        await admin.close()


class ServiceBatchSubscriber(BatchSubscriber):
    """FastStream's batch subscriber as Baton's consumers use it.

    * **It waits in the poll alone.** FastStream sleeps for ``batch_timeout_ms`` whenever a
      poll returns nothing, so a record that arrives meanwhile waits, and a short timeout
      makes every idle subscriber wake up hundreds of times a second (about 0.01 of a core
      each, measured). aiokafka's ``getmany`` already returns as soon as records arrive,
      so waiting there alone is enough: a long timeout then costs neither latency nor CPU.
    * **It commits finished offsets together** (:class:`FinishedOffsets`), not one commit
      per batch, and tells them when a batch is in progress, so that a rebalance waits
      for it. The subscription is registered with ``AckPolicy.MANUAL``, so FastStream
      neither commits nor seeks: the handler reports each batch with :meth:`finished` or
      :meth:`rewind`.
    """

    __slots__ = ()

    offsets: FinishedOffsets

    async def get_msg(self, consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord[Any, Any], ...]:
        if self.offsets.due:  # also when idle: a poll returns at least every timeout
            await self.offsets.commit()
        records = await consumer.getmany(
            timeout_ms=self.batch_timeout_ms, max_records=self.max_records
        )
        return tuple(chain.from_iterable(records.values()))

    async def consume_one(self, msg: tuple[ConsumerRecord[Any, Any], ...]) -> None:
        # Called as soon as a poll returned records, with nothing awaited in between.
        self.offsets.begin()
        try:
            await super().consume_one(msg)
        finally:
            self.offsets.end()

    async def finished(self, records: Iterable[Positioned]) -> None:
        """``records`` (the batch just polled) are worked on: their offsets may be
        committed, which happens once the interval is over or the subscriber is stopping."""
        if self.consumer is None:
            return
        self.offsets.finish(self.consumer, records)
        if self.offsets.due or not self.running:
            await self.offsets.commit()

    def rewind(self, records: Iterable[Positioned]) -> None:
        """Seek back to the first of ``records`` in each partition the consumer still owns,
        so the batch is delivered again."""
        consumer = self.consumer
        if consumer is None:
            return
        first: dict[TopicPartition, int] = {}
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            first[partition] = min(first.get(partition, record.offset), record.offset)
        owned = consumer.assignment()
        for partition, offset in first.items():
            if partition in owned:
                consumer.seek(partition, offset)

    async def stop(self) -> None:
        # No poll after this; a batch in progress commits its own offsets when it ends.
        self.running = False
        await self.offsets.commit()
        await super().stop()


def adopt(subscriber: BatchSubscriber, offsets: FinishedOffsets) -> ServiceBatchSubscriber:
    """``subscriber``, working as a :class:`ServiceBatchSubscriber` with ``offsets`` (also
    its rebalance listener). FastStream builds its subscribers itself, so the class of the
    one it built is swapped (it adds no slots)."""
    if type(subscriber) is not BatchSubscriber:  # a FastStream upgrade changed the class
        raise TypeError(f"expected FastStream's BatchSubscriber, got {type(subscriber)!r}")
    subscriber.__class__ = ServiceBatchSubscriber
    adopted = cast(ServiceBatchSubscriber, subscriber)
    adopted.offsets = offsets
    return adopted


class ServiceBroker(KafkaBroker):
    """A KafkaBroker that starts all its subscribers at the same time.

    FastStream starts them one after another, and a consumer's start waits until its group
    has assigned it partitions. Each further consumer of a group (KAFKA_CONSUMER_WORKERS)
    then waits for a rebalance, which the members already in learn of only at their next
    heartbeat, seconds later. Started together, a group's consumers join in one or two
    rebalances, and all groups at once.
    """

    async def start(self) -> None:
        await self.connect()
        await asyncio.gather(*(subscriber.start() for subscriber in self.subscribers))
        for publisher in self.publishers:
            await publisher.start()
        self.running = True


class ProducerSettings(TypedDict):
    acks: Literal["all"]
    enable_idempotence: bool


PRODUCER_SETTINGS: ProducerSettings = {
    # Every event must reach all in-sync replicas before a handler counts as done.
    "acks": "all",
    # No idempotent producer: consumers already drop repeats by event id, and aiokafka's
    # idempotent producer can stall for good on OutOfOrderSequence after a broker restart
    # (it retries with ever higher sequence numbers instead of resetting).
    "enable_idempotence": False,
}
"""How every Baton producer writes: the services' brokers, the dead-letter replay, and the
benchmark's baseline."""


def build_broker(
    settings: KafkaSettings, *, client_id: str, middlewares: Sequence[Any] = ()
) -> KafkaBroker:
    """A broker for one service. Nothing connects until it is started."""
    return ServiceBroker(
        settings.bootstrap_servers.split(","),
        client_id=client_id,
        security=kafka_security(settings),
        **PRODUCER_SETTINGS,
        middlewares=(
            KafkaPrometheusMiddleware(registry=REGISTRY, app_name=client_id),
            *middlewares,
        ),
        graceful_timeout=BATCH_GRACE_SECONDS,
        # FastStream logs every batch received and processed, on a logger of its own at
        # INFO whatever LOG_LEVEL says: two lines per batch in every consumer, 1-2% of a
        # service's CPU under load. On Baton's logger at DEBUG they follow LOG_LEVEL; the
        # consumer metrics count the same.
        logger=logging.getLogger("baton_runtime.kafka.messages"),
        log_level=logging.DEBUG,
        # Handlers take the record and nothing else (consumer.subscribe), so FastDepends has
        # nothing to inject; with it on, every message resolved its context in a worker
        # thread.
        apply_types=False,
    )


class EventPublisher(Protocol):
    """Where handlers' events go; Kafka in production, a list in unit tests."""

    async def publish(self, events: Iterable[Event]) -> None: ...


class KafkaEventPublisher:
    """Publishes each event to its topic, keyed by thread, and waits for the broker's acks.

    All events are handed to the producer first and awaited together, so a batch goes out
    in a few produce requests; the producer keeps the order of the events of one partition.
    """

    def __init__(self, broker: KafkaBroker, settings: KafkaSettings) -> None:
        self._broker = broker
        self._settings = settings

    async def publish(self, events: Iterable[Event]) -> None:
        pending = [
            await self._broker.publish(
                encode(event),
                self._settings.topic(event.type),
                key=event.kafka_key(),
                headers={"content-type": "application/json", "event-type": event.type},
                no_confirm=True,
            )
            for event in events
        ]
        if pending:
            await asyncio.gather(*pending)
