"""Ingest's decisions, free of I/O."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from baton_contracts import MessageReceived
from baton_conversations import Message, Thread
from baton_runtime import RefusedError

IDEMPOTENCY_NAMESPACE = uuid.UUID("5d0c6b1e-6b8a-4d59-9d53-0f4e3c1b8a01")
TEXT_RATING = re.compile(r"\s*([1-5])\s*")
"""A rating by text: one digit, 1 to 5, with any white space around it."""


class IngestError(RefusedError):
    """A request ingest refuses. Subclasses set the HTTP ``status`` and ``code``."""


class IdempotencyConflictError(IngestError):
    status = 409
    code = "idempotency_key_reused"


class UserMismatchError(IngestError):
    status = 403
    code = "user_mismatch"


class AlreadyRatedError(IngestError):
    status = 409
    code = "already_rated"


class NotResolvedError(IngestError):
    """People hold the conversation and have not resolved it yet: the rating would be
    theirs, of a conversation still going on."""

    status = 409
    code = "not_resolved"


@dataclass(frozen=True)
class NewThread:
    """A conversation a gateway opens for one of its end users."""

    user_id: str
    channel: str | None = None
    department: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    user_hash: str | None = None
    """The user's identity hash, for gateways that require verified end users."""


@dataclass(frozen=True)
class Submission:
    """A user message as a gateway submits it, over HTTP or Kafka."""

    thread_id: str
    text: str
    user_id: str | None = None
    respond: bool = True
    idempotency_key: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def check_user(thread: Thread, user_id: str | None) -> None:
    """A message speaks for its thread's user: naming another one is refused."""
    if user_id is not None and user_id != thread.user_id:
        raise UserMismatchError("user_id is not the user of this thread")


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


def text_score(text: str) -> int | None:
    """The score a message gives if it is nothing but a digit from 1 to 5."""
    found = TEXT_RATING.fullmatch(text)
    return int(found.group(1)) if found else None


def awaits_text_rating(
    thread: Thread, *, rating_id: uuid.UUID, now: datetime, window: timedelta
) -> bool:
    """Whether a rating by text may be the user's next message: a person resolved the
    conversation at most ``window`` ago and nothing rated that resolution yet, except the
    rating ``rating_id`` itself (a message stored again). A thread no person resolved has no
    moment the user was asked for a rating, so a lone digit there is an answer (how many?
    which option?), never a rating."""
    resolution = thread.resolution
    if resolution is None or window <= timedelta(0) or now - resolution.at > window:
        return False
    rating = thread.rating
    return not thread.rated or (rating is not None and rating.event_id == str(rating_id))


def wrote_since_resolution(thread: Thread, recent: Sequence[Message]) -> bool:
    """Whether the user wrote since the thread's latest resolution: then the conversation
    went on, and a lone digit answers whatever it is about now."""
    resolution = thread.resolution
    return resolution is not None and any(
        m.role == "user" and m.created_at >= resolution.at for m in recent
    )


def rating_event_id(message_id: uuid.UUID) -> uuid.UUID:
    """The id of the ``thread.rated`` of a rating by text: one per message, so storing the
    message again finds its rating instead of making another."""
    return uuid.uuid5(message_id, "thread.rated")
