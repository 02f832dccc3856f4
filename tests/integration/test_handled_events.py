"""The handled-events log on the real MongoDB server: a batch at a time."""

from __future__ import annotations

import uuid

from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import MessageReceived
from baton_runtime.mongo import Document
from baton_runtime.outputs import Handled, HandledEvents, Outcome


def message(text: str) -> MessageReceived:
    return MessageReceived.first(thread_id="t1", message_id=uuid.uuid4(), text=text)


async def test_a_batch_is_saved_read_and_marked(db: AsyncDatabase[Document]) -> None:
    log = HandledEvents(db, service="svc")
    first, second, never = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    out = message("out")

    await log.save_many([Outcome(first, [out]), Outcome(second, [], published=True)])
    found = await log.get_many([first, second, never])
    assert found == {first: Handled([out], False), second: Handled([], True)}

    await log.mark_published([first, second])
    assert (await log.get_many([first]))[first].published


async def test_saving_an_outcome_again_keeps_the_first_and_saves_the_rest(
    db: AsyncDatabase[Document],
) -> None:
    log = HandledEvents(db, service="svc")
    repeated, new = uuid.uuid4(), uuid.uuid4()
    original, other = message("first"), message("second")
    await log.save_many([Outcome(repeated, [original])])

    # A concurrent redelivery saved one of them already: no error, nothing lost.
    await log.save_many([Outcome(repeated, [other]), Outcome(new, [other])])
    found = await log.get_many([repeated, new])
    assert found[repeated].events == [original]
    assert found[new].events == [other]


async def test_each_service_has_its_own_entries(db: AsyncDatabase[Document]) -> None:
    event_id = uuid.uuid4()
    await HandledEvents(db, service="router").save_many([Outcome(event_id, [])])
    assert await HandledEvents(db, service="ai").get_many([event_id]) == {}
