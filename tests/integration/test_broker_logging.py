"""The broker's line per batch received and processed follows the service's log level."""

from __future__ import annotations

import logging
import uuid

import pytest

from baton_contracts import MessageReceived, encode
from baton_runtime.kafka import ensure_topics
from baton_runtime.settings import KafkaSettings
from tests.support.consumers import consuming
from tests.support.waiting import eventually


async def test_batch_lines_only_at_debug(
    kafka_settings: KafkaSettings, caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"logging-{uuid.uuid4().hex[:6]}"
    await ensure_topics(kafka_settings, [topic])
    seen: list[str] = []
    broker = consuming(kafka_settings, topic, seen, name="logging")

    def batch_lines() -> list[str]:
        return [m for r in caplog.records if (m := r.getMessage()) in ("Received", "Processed")]

    async def consumed(thread_id: str) -> None:
        event = MessageReceived.first(thread_id=thread_id, message_id=uuid.uuid4(), text="hi")
        await broker.publish(encode(event), kafka_settings.topic(topic), key=event.kafka_key())

        async def arrived() -> bool:
            return thread_id in seen

        await eventually(arrived, what=f"{thread_id} consumed")

    async with broker:
        await broker.start()
        with caplog.at_level(logging.INFO):
            await consumed("at-info")
            assert batch_lines() == []
        with caplog.at_level(logging.DEBUG):
            await consumed("at-debug")
            assert "Received" in batch_lines()
