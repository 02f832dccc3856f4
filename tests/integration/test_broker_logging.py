"""The broker's line per batch received and processed follows the service's log level."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

import pytest

from baton_contracts import Event, MessageReceived, encode
from baton_runtime.consumer import EventRunner, KafkaDeadLetters, subscribe
from baton_runtime.kafka import KafkaEventPublisher, build_broker, ensure_topics
from baton_runtime.settings import KafkaSettings
from tests.support.waiting import eventually


async def test_batch_lines_only_at_debug(
    kafka_settings: KafkaSettings, caplog: pytest.LogCaptureFixture
) -> None:
    topic = f"logging-{uuid.uuid4().hex[:6]}"
    await ensure_topics(kafka_settings, [topic])
    broker = build_broker(kafka_settings, client_id="logging")
    seen: list[str] = []

    async def note(event: MessageReceived) -> Sequence[Event]:
        seen.append(event.text)
        return ()

    subscribe(
        broker,
        kafka_settings,
        topic=topic,
        group=topic,
        event_type=MessageReceived,
        handler=note,
        runner=EventRunner(
            publisher=KafkaEventPublisher(broker, kafka_settings),
            dead_letters=KafkaDeadLetters(broker, service="logging"),
        ),
    )

    def batch_lines() -> list[str]:
        return [
            r.getMessage() for r in caplog.records if r.getMessage() in ("Received", "Processed")
        ]

    async def consumed(text: str) -> None:
        event = MessageReceived.first(thread_id="t", message_id=uuid.uuid4(), text=text)
        await broker.publish(encode(event), kafka_settings.topic(topic), key=event.kafka_key())

        async def arrived() -> bool:
            return text in seen

        await eventually(arrived, what=f"{text!r} consumed")

    async with broker:
        await broker.start()
        with caplog.at_level(logging.INFO):
            await consumed("at info")
            assert batch_lines() == []
        with caplog.at_level(logging.DEBUG):
            await consumed("at debug")
            assert "Received" in batch_lines()
