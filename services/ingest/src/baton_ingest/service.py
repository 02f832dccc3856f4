"""Ingest's use cases: create threads, accept user messages, recover unannounced ones."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from baton_contracts import MessageReceived, MessageSubmitted, utc_now
from baton_runtime import EventPublisher
from baton_runtime.history import Message, MongoHistory, Thread, UnknownThreadError

from .domain import (
    IdempotencyConflictError,
    Submission,
    check_text,
    message_id_for,
    received_event,
)
from .metrics import MESSAGES_RECEIVED, channel_label
from .pending import PendingMessages

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    message_id: uuid.UUID
    created: bool


class Ingest:
    def __init__(
        self,
        *,
        history: MongoHistory,
        pending: PendingMessages,
        publisher: EventPublisher,
        max_text_length: int,
    ) -> None:
        self._history = history
        self._pending = pending
        self._publisher = publisher
        self._max_text_length = max_text_length

    async def create_thread(
        self,
        *,
        user_id: str,
        channel: str | None,
        department: str | None,
        metadata: dict[str, str],
    ) -> Thread:
        thread, _ = await self._history.create_thread(
            uuid.uuid4().hex,
            user_id=user_id,
            channel=channel,
            department=department,
            metadata=metadata,
        )
        return thread

    async def get_thread(self, thread_id: str) -> Thread:
        return await self._history.require_thread(thread_id)

    async def submit(
        self, submission: Submission, *, cause: MessageSubmitted | None = None
    ) -> Accepted:
        """Note the message (:mod:`.pending`), store it, publish ``message.received``, then
        drop the note.

        If the process dies on the way, the recovery sweep finds the note and finishes the
        job. A repeated submission (same idempotency key, or the same Kafka event) finds the
        stored message and publishes again only if the first attempt's note is still there,
        the stored event rather than a new one, so the event id stays the same.
        """
        check_text(submission.text, max_length=self._max_text_length)
        thread = await self.get_thread(submission.thread_id)
        fallback = uuid.uuid5(cause.event_id, "message") if cause else None
        message_id = message_id_for(submission, fallback=fallback)
        event = received_event(
            thread,
            submission,
            message_id,
            correlation_id=cause.correlation_id if cause else None,
            causation_id=cause.event_id if cause else None,
        )
        message = Message(
            message_id=message_id,
            thread_id=thread.thread_id,
            role="user",
            content=submission.text,
            agent_name=None,
            provider="user",
            metadata={"user_id": event.user_id, "channel": thread.channel, **submission.metadata},
        )
        source = "kafka" if cause else "http"
        earlier = await self._pending.note(message, event, source=source)
        stored, created = await self._history.append(message, thread=thread)
        if created:
            MESSAGES_RECEIVED.labels(channel_label(thread.channel), source).inc()
            await self._announce(event)
            return Accepted(message_id=message_id, created=True)
        if earlier is None:
            # This attempt's note: the first one announced the message, or it is another one.
            await self._pending.remove(message_id)
        if stored.content != submission.text:
            raise IdempotencyConflictError(
                "this Idempotency-Key was already used for a different message"
            )
        if earlier is not None:
            # The first attempt stored the message but has not announced it (yet).
            await self._announce(earlier.event)
        return Accepted(message_id=message_id, created=False)

    async def messages(self, thread_id: str, *, limit: int) -> list[Message]:
        await self.get_thread(thread_id)
        return await self._history.messages(thread_id, limit=limit, user_visible_only=True)

    async def republish_pending(self, *, older_than: timedelta) -> int:
        """Finish the submissions that stopped between their note and its removal: store the
        message if it is not yet, and publish its event. Returns how many were published."""
        notes = await self._pending.older_than(utc_now() - older_than, limit=500)
        published = 0
        for note in notes:
            try:
                stored, created = await self._history.append(note.message)
            except UnknownThreadError:
                log.warning("dropping the note of %s: its thread is gone", note.message.message_id)
                await self._pending.remove(note.message.message_id)
                continue
            if stored.content != note.message.content:
                # The id was taken by a different message (the idempotency key reused), which
                # that submission was told about: nothing of this one to announce.
                await self._pending.remove(note.message.message_id)
                continue
            if created:  # the submission died before storing it
                MESSAGES_RECEIVED.labels(channel_label(note.event.channel), note.source).inc()
            await self._announce(note.event)
            published += 1
        if published:
            log.info("recovery sweep published %d stored message(s)", published)
        return published

    async def _announce(self, event: MessageReceived) -> None:
        await self._publisher.publish([event])
        await self._pending.remove(event.message_id)
