"""Ingest's use cases: create threads, accept user messages, recover unpublished ones."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from baton_contracts import MessageReceived, MessageSubmitted, utc_now
from baton_runtime.grouped import GroupedWrites
from baton_runtime.history import Message, MongoHistory, Thread
from baton_runtime.kafka import EventPublisher

from .domain import (
    IdempotencyConflictError,
    Submission,
    check_text,
    message_id_for,
    received_event,
)
from .metrics import MESSAGES_RECEIVED, channel_label

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    message_id: uuid.UUID
    created: bool


class Ingest:
    def __init__(
        self, *, history: MongoHistory, publisher: EventPublisher, max_text_length: int
    ) -> None:
        self._history = history
        self._publisher = publisher
        self._max_text_length = max_text_length
        # Under load the flags of many messages are set by one command.
        self._marks = GroupedWrites(history.mark_published)

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
        """Store the message, then publish ``message.received``.

        The message is stored first with ``published: false``; if the process dies before
        the publish completes, the recovery sweep publishes it later. A repeated submission
        (same idempotency key, or the same Kafka event) finds the stored message and only
        publishes again if that never completed.
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
        stored, created = await self._history.append(
            message, thread=thread, published=False, received_event=event.model_dump_json()
        )
        if created:
            MESSAGES_RECEIVED.labels(
                channel_label(thread.channel), "kafka" if cause else "http"
            ).inc()
            await self._publish(event)
            return Accepted(message_id=message_id, created=True)
        if stored.content != submission.text:
            raise IdempotencyConflictError(
                "this Idempotency-Key was already used for a different message"
            )
        # A repeat: publish only if the first attempt stored the message but never got the
        # event out (the stored event, not a new one, so its id stays the same).
        document = await self._history.get_message_document(message_id)
        if document is not None and not document.get("published", True):
            await self._publish(MessageReceived.model_validate_json(document["received_event"]))
        return Accepted(message_id=message_id, created=False)

    async def messages(self, thread_id: str, *, limit: int) -> list[Message]:
        await self.get_thread(thread_id)
        return await self._history.messages(thread_id, limit=limit, user_visible_only=True)

    async def republish_pending(self, *, older_than: timedelta) -> int:
        """Publish stored user messages whose ``message.received`` never went out."""
        pending = await self._history.unpublished(created_before=utc_now() - older_than, limit=500)
        for document in pending:
            await self._publish(MessageReceived.model_validate_json(document["received_event"]))
        if pending:
            log.info("recovery sweep published %d stored message(s)", len(pending))
        return len(pending)

    async def _publish(self, event: MessageReceived) -> None:
        await self._publisher.publish([event])
        await self._marks.submit(event.message_id)
