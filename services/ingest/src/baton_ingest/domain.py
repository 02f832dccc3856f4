"""Ingest's decisions, free of I/O."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from baton_contracts import MessageReceived
from baton_conversations import Thread
from baton_runtime import RefusedError

IDEMPOTENCY_NAMESPACE = uuid.UUID("5d0c6b1e-6b8a-4d59-9d53-0f4e3c1b8a01")


class IngestError(RefusedError):
    """A request ingest refuses. Subclasses set the HTTP ``status`` and ``code``."""


class TextTooLongError(IngestError):
    status = 413
    code = "text_too_long"


class EmptyTextError(IngestError):
    code = "empty_text"


class IdempotencyConflictError(IngestError):
    status = 409
    code = "idempotency_key_reused"


@dataclass(frozen=True)
class Submission:
    """A user message as a gateway submits it, over HTTP or Kafka."""

    thread_id: str
    text: str
    user_id: str | None = None
    respond: bool = True
    idempotency_key: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def check_text(text: str, *, max_length: int) -> None:
    if not text.strip():
        raise EmptyTextError("text is empty")
    if len(text) > max_length:
        raise TextTooLongError(f"text has {len(text)} characters; the limit is {max_length}")


def message_id_for(submission: Submission, *, fallback: uuid.UUID | None = None) -> uuid.UUID:
    """The stored message's id: stable for one idempotency key, else ``fallback`` or random."""
    if submission.idempotency_key:
        return uuid.uuid5(
            IDEMPOTENCY_NAMESPACE, f"{submission.thread_id}\x00{submission.idempotency_key}"
        )
    return fallback or uuid.uuid4()


def received_event_id(message_id: uuid.UUID) -> uuid.UUID:
    """The id of the ``message.received`` of a message."""
    return uuid.uuid5(message_id, "message.received")


def received_event(
    thread: Thread,
    submission: Submission,
    message_id: uuid.UUID,
    *,
    correlation_id: uuid.UUID | None = None,
    causation_id: uuid.UUID | None = None,
) -> MessageReceived:
    """The ``message.received`` for a stored message; its id derives from the message id,
    so announcing it again (after a crash, or from the recovery sweep) repeats the same
    event rather than creating a second one."""
    event_id = received_event_id(message_id)
    return MessageReceived(
        event_id=event_id,
        correlation_id=correlation_id or event_id,
        causation_id=causation_id,
        thread_id=thread.thread_id,
        message_id=message_id,
        text=submission.text,
        user_id=submission.user_id or thread.user_id,
        channel=thread.channel,
        department=thread.department,
        user_tier=thread.user_tier,
        respond=submission.respond,
    )
