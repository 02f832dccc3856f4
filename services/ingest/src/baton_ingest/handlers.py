"""Kafka handlers: one plain async function per consumed event."""

from __future__ import annotations

from collections.abc import Sequence

from baton_contracts import Event, MessageSubmitted
from baton_runtime.consumer import Rejected
from baton_runtime.errors import RefusedError

from .domain import Submission
from .service import Ingest


async def on_message_submitted(event: MessageSubmitted, *, ingest: Ingest) -> Sequence[Event]:
    submission = Submission(
        thread_id=event.thread_id,
        text=event.text,
        user_id=event.user_id,
        respond=event.respond,
        idempotency_key=event.idempotency_key,
        metadata=event.metadata,
    )
    try:
        await ingest.submit(submission, cause=event)
    except RefusedError as exc:
        raise Rejected(exc.message, code=exc.code) from exc
    return ()  # ingest publishes message.received itself, right after storing
