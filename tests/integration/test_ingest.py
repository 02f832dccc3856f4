"""Ingest's use cases on the real MongoDB server: notes, repeats and the recovery sweep."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import Event, MessageReceived, utc_now
from baton_ingest.domain import IdempotencyConflictError, Submission
from baton_ingest.pending import PendingMessages
from baton_ingest.service import Ingest
from baton_runtime import Document, EventPublisher, MongoSettings
from baton_runtime.history import Message, MongoHistory, Thread
from tests.support.commands import counting_client
from tests.support.memory import DeadPublisher, MemoryPublisher

NOW = timedelta(0)
"""The sweep's grace period in these tests: every note is old enough."""


class _DyingHistory(MongoHistory):
    """Dies after the note, before the message is stored."""

    async def append(
        self, message: Message, *, thread: Thread | None = None
    ) -> tuple[Message, bool]:
        raise ConnectionError("the process died before storing")


def _ingest(
    db: AsyncDatabase[Document],
    publisher: EventPublisher,
    *,
    history: MongoHistory | None = None,
) -> Ingest:
    return Ingest(
        history=history or MongoHistory(db),
        pending=PendingMessages(db),
        publisher=publisher,
        max_text_length=100,
    )


async def _thread(ingest: Ingest) -> str:
    thread = await ingest.create_thread(user_id="u", channel=None, department=None, metadata={})
    return thread.thread_id


async def _notes(db: AsyncDatabase[Document]) -> list[Document]:
    return [doc async for doc in db["pending_messages"].find()]


async def _unannounced(db: AsyncDatabase[Document], text: str) -> tuple[str, Document]:
    """A new thread whose message ``text`` was stored but whose publish died; the thread's
    id and the note left behind."""
    thread_id = await _thread(_ingest(db, MemoryPublisher()))
    with pytest.raises(ConnectionError):
        await _ingest(db, DeadPublisher()).submit(Submission(thread_id=thread_id, text=text))
    [note] = await _notes(db)
    return thread_id, note


def _received(events: list[Event]) -> list[MessageReceived]:
    return [e for e in events if isinstance(e, MessageReceived)]


async def test_notes_go_before_submit_returns_and_concurrent_submits_share_commands(
    db: AsyncDatabase[Document], mongo_settings: MongoSettings
) -> None:
    client, counter = counting_client(mongo_settings)
    await MongoHistory(client[db.name]).ensure_indexes()
    publisher = MemoryPublisher()
    ingest = _ingest(client[db.name], publisher)
    try:
        threads = [await _thread(ingest) for _ in range(4)]
        counter.commands.clear()
        await asyncio.gather(
            *(
                ingest.submit(Submission(thread_id=t, text=f"hello {i}"))
                for i, t in enumerate(threads)
            )
        )

        assert len(publisher.published) == 4
        assert await _notes(db) == []
        # The first note goes at once; those taken while it was being written share the
        # next command, and so do their removals.
        for command in ("insert pending_messages", "delete pending_messages"):
            assert 1 <= counter.commands.count(command) < 4, command
    finally:
        await client.close()


async def test_a_repeat_of_an_announced_message_publishes_nothing(
    db: AsyncDatabase[Document],
) -> None:
    publisher = MemoryPublisher()
    ingest = _ingest(db, publisher)
    submission = Submission(thread_id=await _thread(ingest), text="hi", idempotency_key="k1")

    first = await ingest.submit(submission)
    again = await ingest.submit(submission)  # the gateway retried

    assert (first.created, again.created) == (True, False)
    assert first.message_id == again.message_id
    assert len(publisher.published) == 1
    assert await _notes(db) == []


async def test_a_repeat_after_a_failed_publish_publishes_the_first_event(
    db: AsyncDatabase[Document],
) -> None:
    thread_id = await _thread(_ingest(db, MemoryPublisher()))
    submission = Submission(thread_id=thread_id, text="hi", idempotency_key="k1")
    with pytest.raises(ConnectionError):
        await _ingest(db, DeadPublisher()).submit(submission)
    [note] = await _notes(db)

    publisher = MemoryPublisher()
    again = await _ingest(db, publisher).submit(submission)

    [event] = _received(publisher.published)
    assert again.created is False
    assert event == MessageReceived.model_validate_json(note["event"])
    assert await _notes(db) == []


async def test_a_repeat_with_other_text_is_refused_and_leaves_no_note(
    db: AsyncDatabase[Document],
) -> None:
    publisher = MemoryPublisher()
    ingest = _ingest(db, publisher)
    thread_id = await _thread(ingest)
    await ingest.submit(Submission(thread_id=thread_id, text="hi", idempotency_key="k1"))

    with pytest.raises(IdempotencyConflictError):
        await ingest.submit(Submission(thread_id=thread_id, text="bye", idempotency_key="k1"))

    assert await _notes(db) == []
    assert await ingest.republish_pending(older_than=NOW) == 0
    assert len(publisher.published) == 1


async def test_the_sweep_publishes_a_message_stored_before_the_process_died(
    db: AsyncDatabase[Document],
) -> None:
    thread_id, note = await _unannounced(db, "hi")

    publisher = MemoryPublisher()
    sweeper = _ingest(db, publisher)
    assert await sweeper.republish_pending(older_than=timedelta(hours=1)) == 0  # too young
    assert await sweeper.republish_pending(older_than=NOW) == 1

    [event] = _received(publisher.published)
    assert event == MessageReceived.model_validate_json(note["event"])
    assert [m.text for m in await sweeper.messages(thread_id, limit=10)] == ["hi"]
    assert await _notes(db) == []


async def test_the_sweep_stores_and_publishes_a_message_noted_before_the_process_died(
    db: AsyncDatabase[Document],
) -> None:
    thread_id = await _thread(_ingest(db, MemoryPublisher()))
    dying = _ingest(db, MemoryPublisher(), history=_DyingHistory(db))
    with pytest.raises(ConnectionError):
        await dying.submit(Submission(thread_id=thread_id, text="almost lost"))

    publisher = MemoryPublisher()
    sweeper = _ingest(db, publisher)
    received = {"channel": "none", "source": "http"}
    before = REGISTRY.get_sample_value("baton_messages_received_total", received) or 0.0
    assert await sweeper.republish_pending(older_than=NOW) == 1

    [stored] = await sweeper.messages(thread_id, limit=10)
    [event] = _received(publisher.published)
    assert (stored.text, stored.message_id) == ("almost lost", event.message_id)
    assert await _notes(db) == []
    # Stored by the sweep, so counted there, once.
    assert REGISTRY.get_sample_value("baton_messages_received_total", received) == before + 1


async def test_a_note_the_sweep_cannot_read_does_not_stop_it(
    db: AsyncDatabase[Document], caplog: pytest.LogCaptureFixture
) -> None:
    _, note = await _unannounced(db, "hi")
    # Older than the real note, so first in the sweep's order; no event in it.
    broken = {"_id": "!broken", "message": {"_id": "?"}, "at": note["at"] - timedelta(hours=1)}
    await db["pending_messages"].insert_one(broken)

    publisher = MemoryPublisher()
    sweeper = _ingest(db, publisher)
    with caplog.at_level("ERROR", logger="baton_runtime._mongo"):
        assert await sweeper.republish_pending(older_than=NOW) == 1
        assert await sweeper.republish_pending(older_than=NOW) == 0  # the next round

    [event] = _received(publisher.published)
    assert str(event.message_id) == note["_id"]
    assert [doc["_id"] for doc in await _notes(db)] == ["!broken"]  # left for a person
    # Reported once, not at every round.
    [report] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert report.startswith("recovery sweep: skipping '!broken', not a note it can read")


async def test_notes_the_sweep_cannot_read_do_not_take_up_its_round(
    db: AsyncDatabase[Document],
) -> None:
    _, note = await _unannounced(db, "hi")
    await db["pending_messages"].insert_one(
        {"_id": "!broken", "at": note["at"] - timedelta(hours=1)}
    )
    pending = PendingMessages(db)

    assert await pending.older_than(utc_now(), limit=1) == []  # the broken note was first

    [due] = await pending.older_than(utc_now(), limit=1)
    assert str(due.message.message_id) == note["_id"]


async def test_the_sweep_reads_the_notes_and_not_the_history(
    db: AsyncDatabase[Document], mongo_settings: MongoSettings
) -> None:
    ingest = _ingest(db, MemoryPublisher())
    thread_id = await _thread(ingest)
    for i in range(20):
        await ingest.submit(Submission(thread_id=thread_id, text=f"m{i}"))
    client, counter = counting_client(mongo_settings)
    try:
        sweeper = _ingest(client[db.name], MemoryPublisher())

        assert await sweeper.republish_pending(older_than=NOW) == 0

        assert counter.commands == ["find pending_messages"]
    finally:
        await client.close()


async def test_a_note_is_due_at_its_own_time(db: AsyncDatabase[Document]) -> None:
    """Stored times have milliseconds: a sweep in the millisecond of a note (a grace of
    zero) still finds it."""
    _, note = await _unannounced(db, "hi")

    [due] = await PendingMessages(db).older_than(note["at"], limit=10)

    assert str(due.message.message_id) == note["_id"]
