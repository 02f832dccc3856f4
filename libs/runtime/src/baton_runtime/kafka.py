"""Kafka wiring: the broker, topic naming, and publishing events."""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from baton_contracts import Event, encode

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


def build_broker(
    settings: KafkaSettings, *, client_id: str, middlewares: Sequence[Any] = ()
) -> KafkaBroker:
    """A broker for one service. Nothing connects until it is started."""
    return KafkaBroker(
        settings.bootstrap_servers.split(","),
        client_id=client_id,
        security=kafka_security(settings),
        # Every event must reach all in-sync replicas before a handler counts as done.
        acks="all",
        enable_idempotence=True,
        middlewares=tuple(middlewares),
        graceful_timeout=15.0,
    )


class EventPublisher(Protocol):
    """Where handlers' events go; Kafka in production, a list in unit tests."""

    async def publish(self, events: Iterable[Event]) -> None: ...


class KafkaEventPublisher:
    """Publishes each event to its topic, keyed by thread, and waits for the broker's ack."""

    def __init__(self, broker: KafkaBroker, settings: KafkaSettings) -> None:
        self._broker = broker
        self._settings = settings

    async def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            await self._broker.publish(
                encode(event),
                self._settings.topic(event.type),
                key=event.kafka_key(),
                headers={"content-type": "application/json", "event-type": event.type},
            )
