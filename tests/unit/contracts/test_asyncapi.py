"""The committed AsyncAPI document is what the event models make of it today, and it tells
the truth: every topic, the consumers the services wire, the dead letters' headers.

When the snapshot test fails, an event changed: run `make schemas` and commit the result.
(tests/contracts validates the document with the AsyncAPI CLI.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from baton_ai_responder.app import create_app as create_ai_responder
from baton_contracts import EVENT_TYPES, encode, topics
from baton_contracts.asyncapi import (
    CONSUMERS,
    DEAD_LETTER_HEADERS,
    GATEWAYS,
    PRODUCERS,
    SERVICES,
    asyncapi_document,
)
from baton_contracts.schema import ASYNCAPI_NAME, DEFAULT_DIR, render
from baton_human_queue.app import create_app as create_human_queue
from baton_ingest.app import create_app as create_ingest
from baton_router.app import create_app as create_router
from baton_runtime import KafkaDeadLetters, KafkaSettings, MongoSettings, Record
from tests.support.pipeline import service_settings

from .test_events import samples

COMMITTED = Path(DEFAULT_DIR).parent / ASYNCAPI_NAME
DOCUMENT = asyncapi_document()


def test_the_committed_document_is_current() -> None:
    assert COMMITTED.exists(), f"{COMMITTED} missing: run `make schemas`"
    assert COMMITTED.read_text() == render(DOCUMENT), (
        f"{COMMITTED.name} is stale: run `make schemas` and commit the result"
    )


def test_every_topic_and_its_dead_letters_is_a_channel() -> None:
    addresses = {channel["address"] for channel in DOCUMENT["channels"].values()}
    assert addresses == {*topics.ALL, *(topics.dead_letter_topic(t) for t in topics.ALL)}
    assert set(PRODUCERS) == set(CONSUMERS) == set(topics.ALL)
    messages = DOCUMENT["components"]["messages"]
    assert {m["name"] for m in messages.values()} == {
        *(cls.model_fields["type"].default for cls in EVENT_TYPES),
        "dead-letter",
    }


def test_operations_point_at_their_channels_messages() -> None:
    for name, operation in DOCUMENT["operations"].items():
        channel = operation["channel"]["$ref"].removeprefix("#/channels/")
        assert channel in DOCUMENT["channels"], name
        for message in operation["messages"]:
            prefix = f"#/channels/{channel}/messages/"
            assert message["$ref"].startswith(prefix), name
            assert message["$ref"].removeprefix(prefix) in DOCUMENT["channels"][channel]["messages"]
        assert operation["tags"][0]["name"] in SERVICES


def test_payload_schemas_accept_real_events() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schemas = DOCUMENT["components"]["schemas"]
    for event in samples():
        schema: dict[str, Any] = {
            **schemas[type(event).__name__],
            "components": {"schemas": schemas},
        }
        jsonschema.validate(json.loads(encode(event)), schema)


def apps() -> dict[str, FastAPI]:
    settings = service_settings(KafkaSettings(), MongoSettings(), "http://model.test")
    return {
        "ingest": create_ingest(settings["ingest"]),
        "router": create_router(settings["router"]),
        "ai-responder": create_ai_responder(settings["ai"]),
        "human-queue": create_human_queue(settings["queue"]),
    }


def test_the_consumers_are_the_ones_the_services_wire() -> None:
    wired = {
        service: {consumer.topic for consumer in app.state.consumers}
        for service, app in apps().items()
    }
    for service in SERVICES:
        documented = {topic for topic, by in CONSUMERS.items() if service in by}
        assert wired[service] == documented, service
    assert all(
        GATEWAYS not in by for topic, by in PRODUCERS.items() if topic != "message.submitted"
    )


class CapturingBroker:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}

    async def publish(self, *_: Any, headers: dict[str, str], **__: Any) -> None:
        self.headers = headers


async def test_the_dead_letter_headers_are_the_ones_sent() -> None:
    broker = CapturingBroker()
    record = Record(topic="route.decided", partition=1, offset=7, key=b"t-1", value=b"{}")
    await KafkaDeadLetters(broker, service="baton-test").send(  # type: ignore[arg-type]
        record, code="invalid_field", reason="no thread_id"
    )
    assert set(broker.headers) == set(DEAD_LETTER_HEADERS)
    dead_letter = DOCUMENT["components"]["messages"]["DeadLetter"]
    assert set(dead_letter["headers"]["properties"]) == set(DEAD_LETTER_HEADERS)
