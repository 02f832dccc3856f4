"""Bytes to events and back."""

from __future__ import annotations

import json
from typing import Any, Final, Literal, TypeVar, overload

from pydantic import ValidationError

from ._envelope import Event
from .events import EVENT_TYPES

E = TypeVar("E", bound=Event)

DecodeErrorCode = Literal[
    "invalid_json",
    "not_an_object",
    "unknown_type",
    "unexpected_type",
    "unsupported_version",
    "invalid_field",
]

EVENT_CLASSES: Final[dict[str, type[Event]]] = {
    cls.model_fields["type"].default: cls for cls in EVENT_TYPES
}
"""Event class by its ``type`` value."""


class DecodeError(ValueError):
    """A payload that is not a valid Baton event; ``code`` says which rule it broke."""

    def __init__(self, code: DecodeErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code: DecodeErrorCode = code
        self.detail = detail


def encode(event: Event) -> bytes:
    """The JSON bytes of ``event``, as published to Kafka."""
    return event.model_dump_json().encode()


@overload
def decode(data: bytes | str) -> Event: ...
@overload
def decode(data: bytes | str, *, expect: type[E]) -> E: ...
def decode(data: bytes | str, *, expect: type[Event] | None = None) -> Event:
    """Turn a Kafka payload into its event model.

    Raises :class:`DecodeError` naming what is wrong: bad JSON, not an object, unknown type,
    a type other than ``expect``, an unsupported schema version, or an invalid field.
    """
    try:
        raw: Any = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DecodeError("invalid_json", f"payload is not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise DecodeError("not_an_object", f"payload is a JSON {type(raw).__name__}, not an object")

    event_type = raw.get("type")
    cls = EVENT_CLASSES.get(event_type) if isinstance(event_type, str) else None
    if cls is None:
        raise DecodeError("unknown_type", f"unknown event type {event_type!r}")
    if expect is not None and cls is not expect:
        expected = expect.model_fields["type"].default
        raise DecodeError("unexpected_type", f"expected {expected!r}, got {event_type!r}")

    version = raw.get("schema_version", 1)
    if version not in cls.SCHEMA_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(cls.SCHEMA_VERSIONS))
        raise DecodeError(
            "unsupported_version",
            f"{event_type} schema_version {version!r} is not supported (supported: {supported})",
        )

    try:
        return cls.model_validate(raw)
    except ValidationError as exc:
        raise DecodeError("invalid_field", describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``field 'text': String should have at least 1 character``."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        location = ".".join(str(p) for p in error["loc"]) or "(payload)"
        parts.append(f"field {location!r}: {error['msg']}")
    return "; ".join(parts)
