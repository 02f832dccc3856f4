"""The AsyncAPI 3.0 document of every topic, generated from the event models.

It describes Baton as one application: each topic (and its dead-letter topic) is a channel,
each event a message whose payload is the model's JSON Schema, and each service's use of a
topic an operation tagged with the service. ``make schemas`` writes it to
``libs/contracts/asyncapi.json``; the AsyncAPI CLI validates it in ``make test``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic.json_schema import models_json_schema

from . import topics
from ._envelope import THREAD_ID_PATTERN, Event
from .events import EVENT_TYPES

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
GATEWAYS = "gateways"

# Who writes and who reads each topic; a unit test holds the services' consumers to it.
PRODUCERS: Mapping[str, tuple[str, ...]] = {
    topics.MESSAGE_SUBMITTED: (GATEWAYS,),
    topics.MESSAGE_RECEIVED: ("ingest",),
    topics.ROUTE_DECIDED: ("router",),
    topics.TOOL_HUMAN_REQUESTED: ("ai-responder",),
    topics.HUMAN_RESPONDED: ("human-queue",),
    topics.DRAFT_APPROVED: ("human-queue",),
    topics.DRAFT_REJECTED: ("human-queue",),
    topics.ACTION_DECIDED: ("human-queue",),
    topics.ACTION_EXECUTED: ("ai-responder",),
    topics.MESSAGE_DELTA: ("ai-responder",),
    topics.MESSAGE_SENT: ("ai-responder", "human-queue"),
    topics.THREAD_ASSIGNED: ("router", "ai-responder", "human-queue"),
    topics.TICKET_OPENED: ("human-queue",),
    topics.TICKET_SUMMARIZED: ("ai-responder",),
    topics.TICKET_EXPIRED: ("human-queue",),
    topics.TICKET_LEASE_EXPIRED: ("human-queue",),
    topics.TICKET_SLA_BREACHED: ("human-queue",),
    topics.THREAD_RATED: ("ingest",),
    topics.AGENT_STATUS_CHANGED: ("human-queue",),
}
CONSUMERS: Mapping[str, tuple[str, ...]] = {
    topics.MESSAGE_SUBMITTED: ("ingest",),
    topics.MESSAGE_RECEIVED: ("router",),
    topics.ROUTE_DECIDED: ("ai-responder", "human-queue"),
    topics.TOOL_HUMAN_REQUESTED: ("human-queue",),
    topics.HUMAN_RESPONDED: ("ai-responder",),
    topics.DRAFT_APPROVED: ("ai-responder",),
    topics.DRAFT_REJECTED: ("ai-responder",),
    topics.ACTION_DECIDED: ("ai-responder",),
    topics.ACTION_EXECUTED: ("human-queue",),
    topics.MESSAGE_DELTA: (GATEWAYS, "ingest"),
    topics.MESSAGE_SENT: (GATEWAYS, "ingest"),
    topics.THREAD_ASSIGNED: ("human-queue", "ingest"),
    topics.TICKET_OPENED: ("ai-responder",),
    topics.TICKET_SUMMARIZED: ("human-queue",),
    topics.TICKET_EXPIRED: ("ai-responder",),
    topics.TICKET_LEASE_EXPIRED: (),
    topics.TICKET_SLA_BREACHED: (),
    topics.THREAD_RATED: ("human-queue",),
    topics.AGENT_STATUS_CHANGED: (),
}
SERVICES = ("ingest", "router", "ai-responder", "human-queue")

DEAD_LETTER_HEADERS: Mapping[str, str] = {
    "dlq-reason": "Why the record could not be handled, in words (at most 2000 characters).",
    "dlq-error-code": "The machine code of the reason, e.g. `invalid_field` or `unknown_thread`.",
    "dlq-original-topic": "The topic the record came from (with the deployment's prefix).",
    "dlq-original-partition": "Its partition there, as a decimal string.",
    "dlq-original-offset": "Its offset there, as a decimal string.",
    "dlq-service": "The service that gave up on it, e.g. `baton-router`.",
    "dlq-failed-at": "When it was dead-lettered: ISO 8601 with a UTC offset.",
}


def _camel(name: str) -> str:
    """``tool.human_requested`` -> ``toolHumanRequested`` (AsyncAPI ids allow no dots)."""
    words = name.replace(".", "_").replace("-", "_").split("_")
    return words[0] + "".join(word.capitalize() for word in words[1:])


def _event_type(cls: type[Event]) -> str:
    value: str = cls.model_fields["type"].default
    return value


def _summary(cls: type[Event]) -> str:
    return " ".join((cls.__doc__ or "").split())


def _schemas() -> dict[str, Any]:
    _, document = models_json_schema(
        [(cls, "serialization") for cls in EVENT_TYPES],
        ref_template="#/components/schemas/{model}",
    )
    schemas: dict[str, Any] = document["$defs"]
    return schemas


def _message(cls: type[Event]) -> dict[str, Any]:
    return {
        "name": _event_type(cls),
        "title": cls.__name__,
        "summary": _summary(cls),
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{cls.__name__}"},
        "correlationId": {"$ref": "#/components/correlationIds/userMessage"},
        "bindings": {"$ref": "#/components/messageBindings/threadKey"},
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "dead-letter",
        "title": "DeadLetter",
        "summary": "A record a consumer could never handle: its original bytes and key, "
        "unchanged, with the reason and its original position in headers. "
        "`baton-dlq replay` sends it back to its topic.",
        "contentType": "application/octet-stream",
        "headers": {
            "type": "object",
            "required": sorted(DEAD_LETTER_HEADERS),
            "properties": {
                name: {"type": "string", "description": text}
                for name, text in DEAD_LETTER_HEADERS.items()
            },
        },
        "payload": {
            "description": "The original record's value, byte for byte: usually an event's "
            "JSON, but whatever could not be decoded is kept as it came."
        },
    }


def _channels() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    for cls in EVENT_TYPES:
        topic = _event_type(cls)
        channels[_camel(topic)] = {
            "address": topic,
            "title": topic,
            "description": f"{_summary(cls)} Keyed by `thread_id`, so one thread's events "
            "stay in order. Deployments that share a cluster put `KAFKA_TOPIC_PREFIX` in "
            "front of the address.",
            "messages": {cls.__name__: {"$ref": f"#/components/messages/{cls.__name__}"}},
            "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDING}},
        }
        dead_letters = topics.dead_letter_topic(topic)
        channels[_camel(dead_letters)] = {
            "address": dead_letters,
            "title": dead_letters,
            "description": f"Dead letters of `{topic}`: records its consumers could never "
            "handle, kept for inspection and replay.",
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            "bindings": {"kafka": {"topic": dead_letters, "bindingVersion": KAFKA_BINDING}},
        }
    return channels


def _operation(service: str, action: str, topic: str, message: str) -> dict[str, Any]:
    channel = _camel(topic)
    verb = "publishes" if action == "send" else "consumes"
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [{"$ref": f"#/channels/{channel}/messages/{message}"}],
        "summary": f"{service} {verb} `{topic}`.",
        "tags": [{"name": service}],
    }


def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for cls in EVENT_TYPES:
        topic = _event_type(cls)
        for action, by in (("send", PRODUCERS[topic]), ("receive", CONSUMERS[topic])):
            for service in by:
                if service == GATEWAYS:
                    continue
                verb = "Sends" if action == "send" else "Receives"
                operations[f"{_camel(service)}{verb}{cls.__name__}"] = _operation(
                    service, action, topic, cls.__name__
                )
        for service in CONSUMERS[topic]:
            if service != GATEWAYS:
                dead_letters = topics.dead_letter_topic(topic)
                operations[f"{_camel(service)}DeadLetters{cls.__name__}"] = _operation(
                    service, "send", dead_letters, "DeadLetter"
                )
    return operations


def asyncapi_document(version: str = "1") -> dict[str, Any]:
    """The AsyncAPI 3.0 document of Baton's topics, as a JSON-ready dict."""
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Baton events",
            "version": version,
            "description": "Every event Baton's services exchange over Kafka. Each event "
            "type travels on the topic of its name, keyed by its `thread_id`; delivery is "
            "at least once, so consumers drop repeats by `event_id`. Records a consumer "
            "can never handle go to `<topic>.dlq` with the reason in headers. Gateways "
            "publish `message.submitted` and consume `message.sent`.",
            "tags": [{"name": service} for service in SERVICES],
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The local stack (`make stack-up`); deployments set "
                "`KAFKA_BOOTSTRAP_SERVERS`, with TLS and SASL as configured.",
            }
        },
        "channels": _channels(),
        "operations": _operations(),
        "components": {
            "schemas": _schemas(),
            "messages": {
                **{cls.__name__: _message(cls) for cls in EVENT_TYPES},
                "DeadLetter": _dead_letter_message(),
            },
            "correlationIds": {
                "userMessage": {
                    "description": "Shared by every event that stems from the same inbound "
                    "user message.",
                    "location": "$message.payload#/correlation_id",
                }
            },
            "messageBindings": {
                "threadKey": {
                    "kafka": {
                        "key": {
                            "type": "string",
                            "pattern": THREAD_ID_PATTERN,
                            "description": "The event's `thread_id`.",
                        },
                        "bindingVersion": KAFKA_BINDING,
                    }
                }
            },
        },
    }
