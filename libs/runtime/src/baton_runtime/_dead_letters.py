"""Dead letters: records that can never be handled go to ``<topic>.dlq`` with the reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from faststream.kafka import KafkaBroker

from baton_contracts import topics

from ._records import Record


class DeadLetters(Protocol):
    async def send(self, record: Record, *, code: str, reason: str) -> None: ...


class KafkaDeadLetters:
    """Sends the original bytes and key to ``<topic>.dlq``, with the reason, the original
    position and the service in headers (what ``baton-dlq replay`` reads)."""

    def __init__(self, broker: KafkaBroker, *, service: str) -> None:
        self._broker = broker
        self._service = service

    async def send(self, record: Record, *, code: str, reason: str) -> None:
        await self._broker.publish(
            record.value,
            topics.dead_letter_topic(record.topic),
            key=record.key,
            headers={
                "dlq-reason": reason[:2000],
                "dlq-error-code": code,
                "dlq-original-topic": record.topic,
                "dlq-original-partition": str(record.partition),
                "dlq-original-offset": str(record.offset),
                "dlq-service": self._service,
                "dlq-failed-at": datetime.now(UTC).isoformat(),
            },
        )
