"""Ingest's use cases on the real MongoDB server: the published flag and repeats."""

from __future__ import annotations

import asyncio

from pymongo.asynchronous.database import AsyncDatabase

from baton_ingest.domain import Submission
from baton_ingest.service import Ingest
from baton_runtime.history import MongoHistory
from baton_runtime.mongo import Document
from baton_runtime.settings import MongoSettings
from tests.support.commands import counting_client
from tests.support.memory import MemoryPublisher


async def test_flags_are_set_before_submit_returns_and_shared_by_concurrent_submits(
    db: AsyncDatabase[Document], mongo_settings: MongoSettings
) -> None:
    client, counter = counting_client(mongo_settings)
    history = MongoHistory(client[db.name])
    await history.ensure_indexes()
    publisher = MemoryPublisher()
    ingest = Ingest(history=history, publisher=publisher, max_text_length=100)
    try:
        threads = [
            await ingest.create_thread(user_id="u", channel=None, department=None, metadata={})
            for _ in range(4)
        ]
        counter.commands.clear()
        accepted = await asyncio.gather(
            *(
                ingest.submit(Submission(thread_id=t.thread_id, text=f"hello {i}"))
                for i, t in enumerate(threads)
            )
        )

        assert len(publisher.published) == 4
        for done in accepted:
            stored = await history.get_message_document(done.message_id)
            assert stored is not None
            assert stored["published"] is True
        # The flag of the first message goes at once; those published while it was being
        # written share the next update.
        flags = [c for c in counter.commands if c == "update messages"]
        assert 1 <= len(flags) < 4
    finally:
        await client.close()


async def test_a_repeat_of_a_published_message_publishes_nothing(
    db: AsyncDatabase[Document],
) -> None:
    history = MongoHistory(db)
    await history.ensure_indexes()
    publisher = MemoryPublisher()
    ingest = Ingest(history=history, publisher=publisher, max_text_length=100)
    thread = await ingest.create_thread(user_id="u", channel=None, department=None, metadata={})
    submission = Submission(thread_id=thread.thread_id, text="hi", idempotency_key="k1")

    first = await ingest.submit(submission)
    again = await ingest.submit(submission)  # the gateway retried

    assert (first.created, again.created) == (True, False)
    assert first.message_id == again.message_id
    assert len(publisher.published) == 1
