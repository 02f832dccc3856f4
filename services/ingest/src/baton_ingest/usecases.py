"""Ingest's use cases: accept user messages (over HTTP or Kafka), show a thread as the user
sees it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from baton_contracts import Event, MessageSubmitted
from baton_conversations import ConversationStore, Message, Thread

from .domain import (
    IdempotencyConflictError,
    Submission,
    check_user,
    message_id_for,
    received_event,
)
from .inputs import check_submission
from .metrics import MESSAGES_RECEIVED, channel_label


@dataclass(frozen=True)
class Accepted:
    message_id: uuid.UUID
    created: bool


class Ingest:
    def __init__(self, *, conversations: ConversationStore, max_text_length: int) -> None:
        self._conversations = conversations
        self._max_text_length = max_text_length

    async def submit(
        self,
        submission: Submission,
        *,
        cause: MessageSubmitted | None = None,
        thread: Thread | None = None,
    ) -> Accepted:
        """Store the user message at the end of its thread (``thread``, as the caller has
        just read it, else read here), announced by ``message.received`` (the conversation
        core's outbox: if the process stops before the event is out, the recovery sweep
        publishes it).

        A repeated submission (the same idempotency key, or the same Kafka event) finds the
        stored message and stores nothing new; if its announcement had not finished, it is
        finished now, with the stored event, so the event id stays the same.
        """
        check_submission(submission, max_length=self._max_text_length)
        thread = thread or await self._conversations.require_thread(submission.thread_id)
        check_user(thread, submission.user_id)
        fallback = uuid.uuid5(cause.event_id, "message") if cause else None
        message_id = message_id_for(submission, fallback=fallback)
        message = Message(
            message_id=message_id,
            thread_id=submission.thread_id,
            role="user",
            content=submission.text,
            provider="user",
            metadata={
                **submission.metadata,
                **({"user_id": submission.user_id} if submission.user_id else {}),
            },
        )

        def announce(thread: Thread) -> list[Event]:
            return [
                received_event(
                    thread,
                    submission,
                    message_id,
                    correlation_id=cause.correlation_id if cause else None,
                    causation_id=cause.event_id if cause else None,
                )
            ]

        appended = await self._conversations.append(message, announce=announce, thread=thread)
        if not appended.created:
            if appended.message.content != submission.text:
                raise IdempotencyConflictError(
                    "this Idempotency-Key was already used for a different message"
                )
            return Accepted(message_id=message_id, created=False)
        channel = appended.thread.channel if appended.thread else None
        MESSAGES_RECEIVED.labels(channel_label(channel), "kafka" if cause else "http").inc()
        return Accepted(message_id=message_id, created=True)

    async def messages(self, thread: Thread | str, *, limit: int) -> list[Message]:
        """The thread as the user sees it, oldest first: drafts and tool traffic hidden."""
        if isinstance(thread, str):
            thread = await self._conversations.require_thread(thread)
        return await self._conversations.window(thread, limit=limit, visible_only=True)
