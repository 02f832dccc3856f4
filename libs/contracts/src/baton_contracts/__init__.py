"""Baton's event contracts: the typed events services exchange over Kafka."""

from . import topics
from ._envelope import THREAD_ID_PATTERN, Event, Model, derive_id, kafka_key, utc_now
from .codec import EVENT_CLASSES, DecodeError, decode, describe_validation_error, encode
from .events import (
    EVENT_TYPES,
    MAX_TEXT_LENGTH,
    DraftApproved,
    DraftRejected,
    Handler,
    HumanAgent,
    HumanRequestKind,
    HumanResponded,
    MessageReceived,
    MessageSent,
    MessageSubmitted,
    Owner,
    RouteDecided,
    RouteStrategy,
    ThreadAssigned,
    ToolHumanRequested,
)

__all__ = [
    "EVENT_CLASSES",
    "EVENT_TYPES",
    "MAX_TEXT_LENGTH",
    "THREAD_ID_PATTERN",
    "DecodeError",
    "DraftApproved",
    "DraftRejected",
    "Event",
    "Handler",
    "HumanAgent",
    "HumanRequestKind",
    "HumanResponded",
    "MessageReceived",
    "MessageSent",
    "MessageSubmitted",
    "Model",
    "Owner",
    "RouteDecided",
    "RouteStrategy",
    "ThreadAssigned",
    "ToolHumanRequested",
    "decode",
    "derive_id",
    "describe_validation_error",
    "encode",
    "kafka_key",
    "topics",
    "utc_now",
]
