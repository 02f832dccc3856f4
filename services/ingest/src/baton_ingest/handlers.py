"""Kafka handlers: one plain async function per consumed event."""

from __future__ import annotations

from collections.abc import Sequence

from baton_contracts import Event, MessageSubmitted

from .domain import Submission
from .usecases import Ingest


async def on_message_submitted(event: MessageSubmitted, *, ingest: Ingest) -> Sequence[Event]:
    """A gateway's message over Kafka. The topic carries no key: whoever may write to it
    (Kafka's ACLs decide) is trusted like an admin-run gateway, so the thread's gateway is
    not checked and no rate limit applies. Everything else is: the text, ids and metadata,
    and that a given ``user_id`` is the thread's user."""
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
