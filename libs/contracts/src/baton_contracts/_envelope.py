"""The envelope every Baton event shares."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

THREAD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

ThreadId = str
"""A thread id: 1-128 characters of letters, digits, ``.``, ``_``, ``:`` and ``-``."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def derive_id(cause: uuid.UUID, purpose: str) -> uuid.UUID:
    """A stable id for what ``cause`` leads to.

    Handlers name what they create after the event that triggered them, so a redelivered
    event yields the same ids again and unique indexes turn the replay into a no-op.
    """
    return uuid.uuid5(cause, purpose)


class Model(BaseModel):
    """Base of every contract model: immutable, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


class Event(Model):
    """Fields every event carries. Subclasses fix ``type`` and add their payload."""

    SCHEMA_VERSIONS: ClassVar[frozenset[int]] = frozenset({1})
    """Versions of this event that consumers of this library can read."""

    event_id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        description="Unique id of this event. Consumers de-duplicate on it.",
    )
    type: str = Field(description="Event type, such as `message.received`.")
    schema_version: int = Field(
        default=1, ge=1, description="Version of this event type's payload schema."
    )
    occurred_at: AwareDatetime = Field(
        default_factory=utc_now,
        description="When the event happened, as an ISO 8601 timestamp with a UTC offset.",
    )
    thread_id: ThreadId = Field(
        pattern=THREAD_ID_PATTERN,
        description="The conversation thread. It is also the Kafka message key, "
        "so one thread's events stay in order.",
    )
    correlation_id: uuid.UUID = Field(
        description="Id shared by every event that stems from the same inbound user message.",
    )
    causation_id: uuid.UUID | None = Field(
        default=None,
        description="`event_id` of the event that directly caused this one; "
        "null for an event that starts a chain.",
    )

    @field_validator("occurred_at")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @classmethod
    def first(cls, **fields: Any) -> Self:
        """An event that starts a chain: its correlation id is its own event id."""
        event_id = fields.pop("event_id", None) or uuid.uuid4()
        return cls(event_id=event_id, correlation_id=event_id, causation_id=None, **fields)

    @classmethod
    def caused_by(cls, cause: Event, *, purpose: str | None = None, **fields: Any) -> Self:
        """An event that ``cause`` led to, in the same thread and correlation.

        With ``purpose`` the new event id is derived from the cause, so handling the same
        cause twice produces the same event (and consumers drop the repeat).
        """
        if purpose is not None:
            fields.setdefault("event_id", derive_id(cause.event_id, purpose))
        fields.setdefault("thread_id", cause.thread_id)
        return cls(correlation_id=cause.correlation_id, causation_id=cause.event_id, **fields)

    def kafka_key(self) -> bytes:
        """The Kafka message key of this event: its thread id."""
        return kafka_key(self.thread_id)


def kafka_key(thread_id: str) -> bytes:
    """The Kafka key for events of ``thread_id``; one key keeps a thread on one partition."""
    return thread_id.encode()
