"""Ingest's use cases on the real MongoDB server: published flags set together."""

from __future__ import annotations

from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import MessageReceived
from baton_ingest.domain import Submission
from baton_ingest.service import Ingest
from baton_runtime.history import MongoHistory
from baton_runtime.mongo import Document
from baton_runtime.settings import MongoSettings
from tests.support.commands import counting_client
from tests.support.memory import MemoryPublisher


async def test_the_published_flags_of_messages_sent_meanwhile_are_one_write(
    db: AsyncDatabase[Document], mongo_settings: MongoSettings
) -> None:
    client, counter = counting_client(mongo_settings)
    history = MongoHistory(client[db.name])
    await history.ensure_indexes()
    publisher = MemoryPublisher()
    ingest = Ingest(history=history, publisher=publisher, max_text_length=100, flag_linger=3600)
    try:
        threads = [
            await ingest.create_thread(user_id="u", channel=None, department=None, metadata={})
            for _ in range(3)
        ]
        for i, thread in enumerate(threads):
            await ingest.submit(Submission(thread_id=thread.thread_id, text=f"hello {i}"))
        await ingest.submit(Submission(thread_id=threads[0].thread_id, text="and again"))

        received = [e for e in publisher.published if isinstance(e, MessageReceived)]
        assert len(received) == 4
        stored = [await history.get_message_document(e.message_id) for e in received]
        assert [doc["published"] for doc in stored if doc is not None] == [False] * 4

        counter.commands.clear()
        await ingest.close()
        assert counter.commands == ["update messages"]
        stored = [await history.get_message_document(e.message_id) for e in received]
        assert [doc["published"] for doc in stored if doc is not None] == [True] * 4
    finally:
        await client.close()


async def test_a_repeat_before_the_flag_is_written_publishes_nothing_in_that_process(
    db: AsyncDatabase[Document],
) -> None:
    history = MongoHistory(db)
    await history.ensure_indexes()
    publisher = MemoryPublisher()
    ingest = Ingest(history=history, publisher=publisher, max_text_length=100, flag_linger=3600)
    thread = await ingest.create_thread(user_id="u", channel=None, department=None, metadata={})
    submission = Submission(thread_id=thread.thread_id, text="hi", idempotency_key="k1")

    first = await ingest.submit(submission)
    again = await ingest.submit(submission)  # the gateway retried at once, to this process
    assert (first.created, again.created) == (True, False)
    assert len(publisher.published) == 1

    # Another ingest process (or this one restarted before writing the flag) publishes the
    # stored event again, with its id, which the router drops as a repeat.
    other = Ingest(history=history, publisher=publisher, max_text_length=100, flag_linger=3600)
    elsewhere = await other.submit(submission)
    assert elsewhere.message_id == first.message_id
    ids = [event.event_id for event in publisher.published]
    assert len(ids) == 2
    assert ids[0] == ids[1]

    await ingest.close()
    await other.submit(submission)  # the flag is written now: nothing to publish
    assert len(publisher.published) == 2
