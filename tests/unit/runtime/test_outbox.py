"""The outbox's follow-ups are carried out in order, events together where they follow one
another; a follow-up of an unknown kind is an error, never skipped."""

from __future__ import annotations

import uuid

import pytest

from baton_contracts import MessageReceived
from baton_runtime import Entry, Outbox, merge, publishing
from tests.support.memory import MemoryPublisher


class Recording(MemoryPublisher):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    async def publish(self, events):  # type: ignore[no-untyped-def]
        events = list(events)
        self.log.append(f"publish {len(events)}")
        await super().publish(events)


def event(text: str) -> MessageReceived:
    return MessageReceived.first(thread_id="t", message_id=uuid.uuid4(), text=text)


async def test_follow_ups_run_in_order_and_consecutive_events_go_out_together() -> None:
    log: list[str] = []

    async def store(data: str) -> None:
        log.append(f"store {data}")

    publisher = Recording(log)
    outbox = Outbox(publisher, kinds={"store": store})
    first, second, third = event("1"), event("2"), event("3")
    await outbox.carry_out(
        [publishing(first), publishing(second), Entry("s", "store", '"x"'), publishing(third)]
    )
    assert log == ["publish 2", 'store "x"', "publish 1"]
    assert publisher.published == [first, second, third]


async def test_an_unknown_kind_fails_the_delivery() -> None:
    outbox = Outbox(MemoryPublisher())
    with pytest.raises(LookupError, match="no follow-up of kind 'mystery'"):
        await outbox.carry_out([Entry("m", "mystery", "{}")])


def test_a_change_and_its_follow_ups_are_one_update() -> None:
    outbox = Outbox(MemoryPublisher())
    entry = publishing(event("x"))
    update = merge({"$set": {"status": "assigned"}}, outbox.push([entry]))
    assert update["$set"]["status"] == "assigned"
    assert "outbox_at" in update["$set"]
    assert update["$push"] == {"outbox": {"$each": [entry.to_document()]}}
    assert outbox.fields([]) == {}
    assert outbox.push([]) == {}
