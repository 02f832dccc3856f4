"""Ingest's use cases: accept user messages (over HTTP or Kafka), show a thread as the user
sees it, take the user's rating of a resolved conversation."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from baton_contracts import Event, MessageSubmitted, ThreadRated, utc_now
from baton_conversations import Because, ConversationStore, Message, Thread

from .domain import (
    AlreadyRatedError,
    IdempotencyConflictError,
    NotResolvedError,
    Submission,
    awaits_text_rating,
    check_user,
    message_id_for,
    rating_event_id,
    received_event,
    received_event_id,
    text_score,
    wrote_since_resolution,
)
from .inputs import check_comment, check_score, check_submission
from .metrics import MESSAGES_RECEIVED, channel_label

RECENT = 50
"""How many of a thread's latest messages show whether the user wrote since a resolution."""


@dataclass(frozen=True)
class Accepted:
    message_id: uuid.UUID
    created: bool


class Ingest:
    def __init__(
        self,
        *,
        conversations: ConversationStore,
        max_text_length: int,
        rating_text_window: timedelta = timedelta(0),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._conversations = conversations
        self._max_text_length = max_text_length
        self._rating_text_window = rating_text_window
        self._now = clock

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

        A rating by text (see :meth:`_rating_by_text`) is stored like any message, but
        answered by nobody: its ``message.received`` says ``respond: false``.
        """
        check_submission(submission, max_length=self._max_text_length)
        thread = thread or await self._conversations.require_thread(submission.thread_id)
        check_user(thread, submission.user_id)
        fallback = uuid.uuid5(cause.event_id, "message") if cause else None
        message_id = message_id_for(submission, fallback=fallback)
        if await self._rating_by_text(thread, submission, message_id, cause) is not None:
            submission = dataclasses.replace(submission, respond=False)
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

    async def _rating_by_text(
        self,
        thread: Thread,
        submission: Submission,
        message_id: uuid.UUID,
        cause: MessageSubmitted | None,
    ) -> ThreadRated | None:
        """The rating a message gives, if it is one: a lone digit from 1 to 5, the user's
        first message after a person resolved the conversation, within the window, while
        that resolution is not rated. Recorded here, before the message is stored: a
        message stored before keeps what it was; one whose rating was recorded but which
        was not stored (a crash) finds its rating again by its id."""
        score = text_score(submission.text)
        if score is None:
            return None
        rating_id = rating_event_id(message_id)
        if not awaits_text_rating(
            thread, rating_id=rating_id, now=self._now(), window=self._rating_text_window
        ):
            return None
        if await self._conversations.get_message(message_id) is not None:
            return None
        if wrote_since_resolution(thread, await self._conversations.window(thread, limit=RECENT)):
            return None
        because = Because(
            event_id=rating_id,
            correlation_id=cause.correlation_id if cause else received_event_id(message_id),
            causation_id=cause.event_id if cause else None,
        )
        return await self._conversations.rate(
            thread, score=score, comment=None, via="text", because=because
        )

    async def rate(self, thread: Thread, *, score: int, comment: str | None) -> ThreadRated:
        """Record the user's rating of the conversation, announced by ``thread.rated``:
        of its latest resolution by a person, else of the AI. Once per resolution, a
        second rating is refused (:class:`AlreadyRatedError`), under any concurrency; a
        conversation people hold and never resolved is not rated yet
        (:class:`NotResolvedError`)."""
        check_score(score)
        if comment is not None:
            check_comment(comment)
        if thread.owner == "human" and thread.resolution is None:
            raise NotResolvedError(
                "people are working on this conversation: rate it once they have resolved it"
            )
        event_id = uuid.uuid4()
        rated = await self._conversations.rate(
            thread,
            score=score,
            comment=comment if comment and comment.strip() else None,
            via="api",
            because=Because(event_id=event_id, correlation_id=event_id, causation_id=None),
        )
        if rated is None:
            raise AlreadyRatedError(
                "this conversation is rated already: a rating is taken once each time it is "
                "resolved"
            )
        return rated

    async def messages(self, thread: Thread | str, *, limit: int) -> list[Message]:
        """The thread as the user sees it, oldest first: drafts and tool traffic hidden."""
        if isinstance(thread, str):
            thread = await self._conversations.require_thread(thread)
        return await self._conversations.window(thread, limit=limit, visible_only=True)
