"""Ingest's submissions on the real MongoDB server: what a message costs, repeats, and the
recovery sweep of the conversations' outboxes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import Event, MessageReceived, utc_now
from baton_conversations import Conversations
from baton_ingest.domain import IdempotencyConflictError, Submission
from baton_ingest.usecases import Ingest
from baton_runtime import Document, EventPublisher, MongoSettings
from tests.support.commands import counting_client
from tests.support.memory import DeadPublisher, MemoryPublisher

NOW = timedelta(0)
"""The sweep's grace period in these tests: every outbox is old enough."""


def _conversations(db: AsyncDatabase[Document], publisher: EventPublisher) -> Conversations:
    return Conversations(db, publisher)


def _ingest(db: AsyncDatabase[Document], publisher: EventPublisher) -> Ingest:
    return Ingest(conversations=_conversations(db, publisher), max_text_length=100)


async def _thread(db: AsyncDatabase[Document]) -> str:
    thread = await _conversations(db, MemoryPublisher()).open_thread(
        user_id="u", channel=None, department=None, metadata={}
    )
    return thread.thread_id


async def _waiting(db: AsyncDatabase[Document]) -> list[Document]:
    """Messages whose announcement has not gone out."""
    return [doc async for doc in db["messages"].find({"outbox.0": {"$exists": True}})]


async def _unannounced(db: AsyncDatabase[Document], text: str) -> tuple[str, Document]:
    """A new thread whose message ``text`` was stored, but whose publish failed; the
    thread's id and the message as stored."""
    thread_id = await _thread(db)
    await _ingest(db, DeadPublisher()).submit(Submission(thread_id=thread_id, text=text))
    [stored] = await _waiting(db)
    return thread_id, stored


def _announced(stored: Document) -> MessageReceived:
    """The message.received waiting in a stored message's outbox."""
    [entry] = [e for e in stored["outbox"] if e["kind"] == "event"]
    return MessageReceived.model_validate_json(entry["data"])


def _received(events: list[Event]) -> list[MessageReceived]:
    return [e for e in events if isinstance(e, MessageReceived)]


async def test_a_message_costs_four_commands_at_most(
    db: AsyncDatabase[Document], mongo_settings: MongoSettings
) -> None:
    client, counter = counting_client(mongo_settings)
    publisher = MemoryPublisher()
    ingest = _ingest(client[db.name], publisher)
    try:
        threads = [await _thread(client[db.name]) for _ in range(5)]
        counter.commands.clear()
        await ingest.submit(Submission(thread_id=threads[0], text="alone"))
        # The thread, the message (with its listing and its event as follow-ups), the thread
        # listing it, and the follow-ups taken off.
        assert counter.commands == [
            "find threads",
            "insert messages",
            "update threads",
            "update messages",
        ]

        counter.commands.clear()
        await asyncio.gather(
            *(
                ingest.submit(Submission(thread_id=t, text=f"hello {i}"))
                for i, t in enumerate(threads[1:])
            )
        )
        assert len(_received(publisher.published)) == 5
        assert await _waiting(db) == []
        # Concurrent submissions share reads, inserts, listings and clears when they overlap.
        assert len(counter.commands) <= 4 * 4
    finally:
        await client.close()


async def test_a_repeat_of_an_announced_message_publishes_nothing(
    db: AsyncDatabase[Document],
) -> None:
    publisher = MemoryPublisher()
    ingest = _ingest(db, publisher)
    submission = Submission(thread_id=await _thread(db), text="hi", idempotency_key="k1")

    first = await ingest.submit(submission)
    again = await ingest.submit(submission)  # the gateway retried

    assert (first.created, again.created) == (True, False)
    assert first.message_id == again.message_id
    assert len(_received(publisher.published)) == 1
    assert [m.text for m in await ingest.messages(submission.thread_id, limit=10)] == ["hi"]


async def test_a_repeat_after_a_failed_publish_publishes_the_first_event(
    db: AsyncDatabase[Document],
) -> None:
    thread_id = await _thread(db)
    submission = Submission(thread_id=thread_id, text="hi", idempotency_key="k1")
    await _ingest(db, DeadPublisher()).submit(submission)
    [stored] = await _waiting(db)

    publisher = MemoryPublisher()
    again = await _ingest(db, publisher).submit(submission)

    [event] = _received(publisher.published)
    assert again.created is False
    assert event == _announced(stored)
    assert await _waiting(db) == []


async def test_a_repeat_with_other_text_is_refused_and_publishes_nothing(
    db: AsyncDatabase[Document],
) -> None:
    publisher = MemoryPublisher()
    ingest = _ingest(db, publisher)
    thread_id = await _thread(db)
    await ingest.submit(Submission(thread_id=thread_id, text="hi", idempotency_key="k1"))

    with pytest.raises(IdempotencyConflictError):
        await ingest.submit(Submission(thread_id=thread_id, text="bye", idempotency_key="k1"))

    assert len(_received(publisher.published)) == 1
    assert await _waiting(db) == []


async def test_the_sweep_publishes_a_message_stored_before_its_publish_failed(
    db: AsyncDatabase[Document],
) -> None:
    thread_id, stored = await _unannounced(db, "hi")

    publisher = MemoryPublisher()
    sweeper = _conversations(db, publisher)
    assert await sweeper.sweep(older_than=timedelta(hours=1)) == 0  # too young
    assert await sweeper.sweep(older_than=NOW) == 1

    [event] = _received(publisher.published)
    assert event == _announced(stored)
    assert (event.thread_id, str(event.message_id)) == (thread_id, stored["_id"])
    assert await _waiting(db) == []
    assert await sweeper.sweep(older_than=NOW) == 0  # nothing twice


async def test_an_outbox_the_sweep_cannot_read_does_not_stop_it(
    db: AsyncDatabase[Document], caplog: pytest.LogCaptureFixture
) -> None:
    _, stored = await _unannounced(db, "hi")
    # Older than the real one, so first in the sweep's order; no readable entry in it.
    broken = {
        "_id": "!broken",
        "outbox": [{"id": "?"}],
        "outbox_at": stored["outbox_at"] - timedelta(hours=1),
    }
    await db["messages"].insert_one(broken)

    publisher = MemoryPublisher()
    sweeper = _conversations(db, publisher)
    with caplog.at_level("ERROR", logger="baton_runtime._mongo"):
        assert await sweeper.sweep(older_than=NOW) == 1
        assert await sweeper.sweep(older_than=NOW) == 0  # the next round

    [event] = _received(publisher.published)
    assert str(event.message_id) == stored["_id"]
    assert [doc["_id"] for doc in await _waiting(db)] == ["!broken"]  # left for a person
    # Reported once, not at every round.
    [report] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert report.startswith("outbox sweep of messages: skipping '!broken'")


async def test_the_sweep_reads_only_what_waits_to_be_announced(
    db: AsyncDatabase[Document], mongo_settings: MongoSettings
) -> None:
    ingest = _ingest(db, MemoryPublisher())
    thread_id = await _thread(db)
    for i in range(20):
        await ingest.submit(Submission(thread_id=thread_id, text=f"m{i}"))
    client, counter = counting_client(mongo_settings)
    try:
        assert await _conversations(client[db.name], MemoryPublisher()).sweep(older_than=NOW) == 0
        assert counter.commands == ["find threads", "find messages"]
    finally:
        await client.close()


async def test_an_outbox_is_due_at_its_own_time(db: AsyncDatabase[Document]) -> None:
    """Stored times have milliseconds: a sweep in the millisecond of an outbox (a grace of
    zero) still finds it."""
    _, stored = await _unannounced(db, "hi")
    publisher = MemoryPublisher()
    at = stored["outbox_at"]
    sweeper = Conversations(db, publisher, clock=lambda: at)

    assert await sweeper.sweep(older_than=NOW) == 1
    assert utc_now() >= at
