"""Ingest's use cases against the in-memory conversation core."""

from __future__ import annotations

import pytest

from baton_contracts import MessageReceived, MessageSubmitted
from baton_conversations import UnknownThreadError
from baton_ingest.domain import IdempotencyConflictError, Submission, UserMismatchError
from baton_ingest.inputs import EmptyTextError, InvalidTextError, TextTooLongError
from baton_ingest.usecases import Ingest
from tests.support.memory import MemoryConversations


async def ingest_with_thread(**metadata: str) -> tuple[Ingest, MemoryConversations, str]:
    conversations = MemoryConversations()
    ingest = Ingest(conversations=conversations, max_text_length=20)
    thread = await conversations.open_thread(
        user_id="u1", channel="web", department="billing", metadata=metadata
    )
    return ingest, conversations, thread.thread_id


async def test_a_message_is_stored_and_announced_with_the_thread_it_belongs_to() -> None:
    ingest, conversations, thread_id = await ingest_with_thread(tier="vip")
    accepted = await ingest.submit(Submission(thread_id=thread_id, text="hello"))

    assert accepted.created
    [event] = conversations.publisher.of_type(MessageReceived)
    assert (event.message_id, event.text, event.user_id) == (accepted.message_id, "hello", "u1")
    assert (event.channel, event.department, event.user_tier) == ("web", "billing", "vip")
    assert [m.text for m in await ingest.messages(thread_id, limit=10)] == ["hello"]


async def test_a_repeated_key_stores_one_message_and_other_text_is_refused() -> None:
    ingest, conversations, thread_id = await ingest_with_thread()
    first = await ingest.submit(Submission(thread_id=thread_id, text="hi", idempotency_key="k"))
    again = await ingest.submit(Submission(thread_id=thread_id, text="hi", idempotency_key="k"))
    assert (first.created, again.created) == (True, False)
    assert first.message_id == again.message_id
    with pytest.raises(IdempotencyConflictError):
        await ingest.submit(Submission(thread_id=thread_id, text="bye", idempotency_key="k"))
    assert len(conversations.publisher.of_type(MessageReceived)) == 1


async def test_a_kafka_submission_is_caused_by_its_event_and_a_redelivery_stores_nothing() -> None:
    ingest, conversations, thread_id = await ingest_with_thread()
    submitted = MessageSubmitted.first(thread_id=thread_id, text="over kafka")
    submission = Submission(thread_id=thread_id, text="over kafka")
    await ingest.submit(submission, cause=submitted)
    await ingest.submit(submission, cause=submitted)

    [event] = conversations.publisher.of_type(MessageReceived)
    assert (event.causation_id, event.correlation_id) == (
        submitted.event_id,
        submitted.correlation_id,
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [("   ", EmptyTextError), ("x" * 21, TextTooLongError), ("\ud800", InvalidTextError)],
)
async def test_bad_text_is_refused_before_anything_is_stored(
    text: str, error: type[Exception]
) -> None:
    ingest, conversations, thread_id = await ingest_with_thread()
    with pytest.raises(error):
        await ingest.submit(Submission(thread_id=thread_id, text=text))
    assert conversations.messages == {}


async def test_an_unknown_thread_is_refused() -> None:
    ingest, _, _ = await ingest_with_thread()
    with pytest.raises(UnknownThreadError):
        await ingest.submit(Submission(thread_id="nope", text="hi"))
    with pytest.raises(UnknownThreadError):
        await ingest.messages("nope", limit=10)


async def test_a_message_naming_another_user_is_refused() -> None:
    ingest, _, thread_id = await ingest_with_thread()
    await ingest.submit(Submission(thread_id=thread_id, text="me", user_id="u1"))
    with pytest.raises(UserMismatchError):
        await ingest.submit(Submission(thread_id=thread_id, text="not me", user_id="u2"))
    assert [m.text for m in await ingest.messages(thread_id, limit=10)] == ["me"]
