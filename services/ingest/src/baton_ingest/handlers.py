"""Kafka handlers: one plain async function per consumed event."""

from __future__ import annotations

from collections.abc import Sequence

from baton_contracts import Event, MessageSubmitted

from .domain import Submission
from .usecases import Ingest


async def on_message_submitted(event: MessageSubmitted, *, ingest: Ingest) -> Sequence[Event]:
    submission = Submission(
        thread_id=event.thread_id,
        text=event.text,
        user_id=event.user_id,
        respond=event.respond,
        idempotency_key=event.idempotency_key,
        metadata=event.metadata,
    )
    # A refusal (unknown thread, invalid text, ...) is dead-lettered with its code by the runner.
    await ingest.submit(submission, cause=event)
    return ()  # message.received is announced by the conversation core with the message
