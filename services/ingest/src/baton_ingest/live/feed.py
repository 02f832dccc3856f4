"""Where the thread streams' events come from: ``message.delta`` and ``message.sent``, read by
every ingest instance for itself.

A client's stream may be open on any instance, so each instance reads every record of both
topics: a consumer of its own, in no group (so nothing is committed and no rebalance waits
on it), on all partitions, from their ends at start-up. A record of a thread nobody streams
on this instance costs a look at its key; only the others are decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

from baton_contracts import DecodeError, MessageDelta, MessageSent, decode, topics
from baton_runtime import KafkaSettings, client_security_options

from .hub import Hub, delta_item, message_item

log = logging.getLogger(__name__)

RETRY_S = 1.0
TOPICS = (topics.MESSAGE_DELTA, topics.MESSAGE_SENT)


class LiveFeed:
    """Reads both topics into the hub until cancelled (a background loop of the service)."""

    def __init__(
        self,
        settings: KafkaSettings,
        hub: Hub,
        *,
        client_id: str,
        consumer: Callable[[], Any] | None = None,
    ) -> None:
        self._settings = settings
        self._hub = hub
        self._client_id = client_id
        self._consumer = consumer or self._kafka_consumer
        self.records = 0
        """Records read so far (of every thread)."""

    def _kafka_consumer(self) -> AIOKafkaConsumer:
        settings = self._settings
        return AIOKafkaConsumer(
            *(settings.topic(name) for name in TOPICS),
            bootstrap_servers=settings.bootstrap_servers.split(","),
            client_id=f"{self._client_id}-live",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=100,
            **client_security_options(settings),
        )

    async def run(self) -> None:
        while True:
            consumer = self._consumer()
            try:
                await consumer.start()
                while True:
                    batches = await consumer.getmany(timeout_ms=1000)
                    for records in batches.values():
                        for record in records:
                            self.take(record.key, record.value)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Whatever went by meanwhile is not replayed (the consumer starts again at
                # the ends): every stream ends, and its client reads what it missed.
                log.exception("the thread streams' feed failed; streams end, retrying")
                self._hub.end_all()
                await asyncio.sleep(RETRY_S)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    def take(self, key: bytes | None, value: bytes) -> None:
        """One record of either topic: to the streams of its thread, if it has any here."""
        self.records += 1
        if key is None:
            return
        try:
            thread_id = key.decode()
        except UnicodeDecodeError:
            return
        if not self._hub.watching(thread_id):
            return
        try:
            event = decode(value)
        except DecodeError:
            return  # the services' consumers dead-letter it; a stream just skips it
        if isinstance(event, MessageDelta):
            self._hub.publish(event.thread_id, delta_item(event))
        elif isinstance(event, MessageSent):
            self._hub.publish(event.thread_id, message_item(event))
