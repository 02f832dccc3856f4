"""Kafka wiring: the broker, topic naming, and publishing events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol, TypedDict

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from prometheus_client import REGISTRY

from baton_contracts import Event, encode
from baton_contracts.topics import dead_letter_topic

from ._settings import KafkaSettings
from ._tracing import tracing_on


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
    """The producing side of one service: its events and dead letters go out through it.
    Nothing connects until it is started. With tracing on, each record carries the trace
    context in its headers (``traceparent``, ``tracestate``)."""
    if tracing_on():
        from ._tracing_setup import kafka_middleware

        middlewares = (*middlewares, kafka_middleware())
    return KafkaBroker(
        settings.bootstrap_servers.split(","),
        client_id=client_id,
        security=kafka_security(settings),
        **PRODUCER_SETTINGS,
        middlewares=(
            KafkaPrometheusMiddleware(registry=REGISTRY, app_name=client_id),
            *middlewares,
        ),
        # FastStream's own log lines of each publish follow LOG_LEVEL on Baton's logger,
        # at DEBUG, rather than its own logger at INFO.
        logger=logging.getLogger("baton_runtime.kafka.messages"),
        log_level=logging.DEBUG,
        # Baton's consumers are its own (KeyedConsumer); the broker only publishes.
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
                # The conversation's id, rather than a fresh one FastStream would make up:
                # the record's correlation_id header, and the spans of a traced publish.
                correlation_id=str(event.correlation_id),
                no_confirm=True,
            )
            for event in events
        ]
        if pending:
            await asyncio.gather(*pending)
