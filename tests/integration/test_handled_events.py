"""The outbox and the handled-events log on the real MongoDB-wire server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import MessageReceived, utc_now
from baton_runtime import Document, HandledEvents, Outbox, merge, publishing
from tests.support.memory import MemoryPublisher


def message(text: str) -> MessageReceived:
    return MessageReceived.first(thread_id="t1", message_id=uuid.uuid4(), text=text)


async def test_an_event_handled_is_recorded_with_its_output_until_delivered(
    db: AsyncDatabase[Document],
) -> None:
    publisher = MemoryPublisher()
    log = HandledEvents(db, service="svc", outbox=Outbox(publisher))
    handled, quiet, never = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    out = message("out")

    entries = await log.save(handled, [out])
    assert await log.save(quiet, []) == []
    found = await log.get(handled)
    assert found is not None
    assert (found.events, found.waiting) == ([out], entries)
    assert await log.get(never) is None

    await log.deliver(handled, entries)
    assert publisher.published == [out]
    after = await log.get(handled)
    assert after is not None
    assert after.waiting == []
    quiet_after = await log.get(quiet)
    assert quiet_after is not None
    assert quiet_after.waiting == []


async def test_a_second_save_of_one_event_keeps_the_first_output(
    db: AsyncDatabase[Document],
) -> None:
    log = HandledEvents(db, service="svc", outbox=Outbox(MemoryPublisher()))
    event_id = uuid.uuid4()
    first, second = message("first"), message("second")
    await log.save(event_id, [first])
    # A redelivery racing the first run: no error, and the first run's output stands.
    assert await log.save(event_id, [second]) == [publishing(first)]


async def test_each_service_has_its_own_entries(db: AsyncDatabase[Document]) -> None:
    event_id = uuid.uuid4()
    outbox = Outbox(MemoryPublisher())
    await HandledEvents(db, service="router", outbox=outbox).save(event_id, [])
    assert await HandledEvents(db, service="ai", outbox=outbox).get(event_id) is None


async def test_delivering_takes_the_entries_and_their_time_off_the_document(
    db: AsyncDatabase[Document],
) -> None:
    outbox = Outbox(MemoryPublisher())
    things = db[f"outbox-{uuid.uuid4().hex[:8]}"]
    first, second = publishing(message("a")), publishing(message("b"))
    await things.insert_one({"_id": "x", "state": 1, **outbox.fields([first])})
    # A second change adds its entry before the first is delivered.
    await things.update_one({"_id": "x"}, merge({"$set": {"state": 2}}, outbox.push([second])))

    await outbox.deliver(things, "x", [first])
    doc = await things.find_one({"_id": "x"})
    assert doc is not None
    assert doc["outbox"] == [second.to_document()]  # the later change's entry stays

    await outbox.deliver(things, "x", [second])
    doc = await things.find_one({"_id": "x"})
    assert doc is not None
    assert doc["outbox"] == []
    # Nothing waits: however old, the sweep has nothing to carry out.
    publisher = MemoryPublisher()
    swept = Outbox(publisher, clock=lambda: utc_now() + timedelta(minutes=5))
    assert await swept.sweep(things, older_than=timedelta(seconds=5)) == 0
    assert publisher.published == []


async def test_the_sweep_carries_out_what_a_crash_left_once_and_in_order(
    db: AsyncDatabase[Document],
) -> None:
    things = db[f"outbox-{uuid.uuid4().hex[:8]}"]
    events = [message(str(i)) for i in range(3)]
    writer = Outbox(MemoryPublisher())
    await things.insert_one({"_id": "left", **writer.fields([publishing(e) for e in events])})
    await things.insert_one({"_id": "fresh", **writer.fields([publishing(message("new"))])})

    later = utc_now() + timedelta(seconds=30)
    publishers = [MemoryPublisher(), MemoryPublisher()]
    sweepers = [Outbox(p, clock=lambda: later) for p in publishers]
    # Two sweepers at once (two processes): each document is carried out by one of them.
    counts = await asyncio.gather(
        *(s.sweep(things, older_than=timedelta(seconds=60)) for s in sweepers)
    )
    assert counts == [0, 0]  # younger than the grace: left to whoever wrote them
    counts = await asyncio.gather(
        *(s.sweep(things, older_than=timedelta(seconds=10)) for s in sweepers)
    )
    published = publishers[0].published + publishers[1].published
    assert sorted(counts) == [0, 2] or sorted(counts) == [1, 1]
    assert len(published) == 4
    left = [e for e in published if e in events]
    assert left == events  # in the order they were stored
    assert await things.count_documents({"outbox.0": {"$exists": True}}) == 0
