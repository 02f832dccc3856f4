"""The event runner's bookkeeping: what it reads and writes for each record (in memory)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable, Sequence

import pytest

from baton_contracts import Event, MessageReceived, RouteDecided
from baton_runtime.consumer import EventRunner, Record, RetryPolicy
from baton_runtime.history import UnknownThreadError
from baton_runtime.outputs import Handled, HandledEvents, Outcome
from tests.support.memory import MemoryDeadLetters, MemoryPublisher


class MemoryHandled(HandledEvents):
    """The handled-events log in a dict, recording every call."""

    def __init__(self) -> None:
        self.saved: dict[uuid.UUID, Handled] = {}
        self.calls: list[str] = []

    async def get_many(self, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Handled]:
        self.calls.append("get")
        return {i: self.saved[i] for i in event_ids if i in self.saved}

    async def save_many(self, outcomes: Sequence[Outcome]) -> None:
        if outcomes:
            self.calls.append("save")
        for outcome in outcomes:
            self.saved.setdefault(
                outcome.event_id, Handled(list(outcome.events), outcome.published)
            )

    async def mark_published(self, event_ids: Iterable[uuid.UUID]) -> None:
        self.calls.append("mark_published")
        for event_id in event_ids:
            self.saved[event_id] = Handled(self.saved[event_id].events, True)


def route(handler: str, thread_id: str = "t1") -> RouteDecided:
    received = MessageReceived.first(thread_id=thread_id, message_id=uuid.uuid4(), text="hi")
    return RouteDecided.caused_by(
        received,
        message_id=received.message_id,
        handler=handler,
        strategy="default",
        reason="default route",
        text="hi",
    )


def record_of(event: Event, offset: int = 7) -> Record:
    return Record(
        topic="route.decided",
        partition=0,
        offset=offset,
        key=event.kafka_key(),
        value=event.model_dump_json().encode(),
        headers=(),
    )


def batch_of(*events: Event) -> list[Record]:
    return [record_of(event, offset) for offset, event in enumerate(events)]


def reply_to(event: RouteDecided) -> MessageReceived:
    return MessageReceived.first(thread_id=event.thread_id, message_id=uuid.uuid4(), text="re")


def runner() -> tuple[EventRunner, MemoryPublisher, MemoryHandled]:
    publisher, handled = MemoryPublisher(), MemoryHandled()
    return (
        EventRunner(publisher=publisher, dead_letters=MemoryDeadLetters(), handled=handled),
        publisher,
        handled,
    )


async def test_an_event_the_service_does_not_want_is_not_worked_on() -> None:
    run, publisher, handled = runner()
    calls: list[RouteDecided] = []

    async def handler(event: RouteDecided) -> Sequence[Event]:
        calls.append(event)
        return ()

    await run.run(record_of(route("ai")), RouteDecided, handler, lambda e: e.handler == "human")
    assert calls == []
    assert handled.calls == []  # not even a read of the log
    assert publisher.published == []


async def test_a_handler_that_produced_nothing_is_logged_with_one_write() -> None:
    run, publisher, handled = runner()
    event = route("human")

    async def handler(_: RouteDecided) -> Sequence[Event]:
        return ()

    await run.run(record_of(event), RouteDecided, handler)
    assert handled.calls == ["get", "save"]
    assert handled.saved[event.event_id] == Handled([], True)
    assert publisher.published == []

    await run.run(record_of(event), RouteDecided, handler)  # redelivered: recognised
    assert handled.calls == ["get", "save", "get"]


async def test_produced_events_are_saved_then_published_then_marked() -> None:
    run, publisher, handled = runner()
    event = route("ai")
    reply = MessageReceived.first(thread_id="t1", message_id=uuid.uuid4(), text="out")

    async def handler(_: RouteDecided) -> Sequence[Event]:
        return [reply]

    await run.run(record_of(event), RouteDecided, handler)
    assert handled.calls == ["get", "save", "mark_published"]
    assert publisher.published == [reply]
    assert handled.saved[event.event_id].published

    await run.run(record_of(event), RouteDecided, handler)  # redelivered: nothing again
    assert publisher.published == [reply]


async def test_a_domain_refusal_is_dead_lettered_at_once_with_its_code() -> None:
    dead_letters = MemoryDeadLetters()
    run = EventRunner(publisher=MemoryPublisher(), dead_letters=dead_letters)
    attempts = 0

    async def handler(event: RouteDecided) -> Sequence[Event]:
        nonlocal attempts
        attempts += 1
        raise UnknownThreadError(f"thread {event.thread_id!r} does not exist")

    await run.run(record_of(route("ai")), RouteDecided, handler)
    assert attempts == 1  # a verdict, not retried
    assert [code for _, code in dead_letters.letters] == ["unknown_thread"]


async def test_a_batch_shares_one_read_one_save_and_one_mark_of_the_log() -> None:
    run, publisher, handled = runner()
    events = [route("ai", f"t{i % 3}") for i in range(9)]
    replies = {e.event_id: reply_to(e) for e in events}

    async def handler(event: RouteDecided) -> Sequence[Event]:
        return [replies[event.event_id]]

    await run.run_batch(batch_of(*events), RouteDecided, handler)
    assert handled.calls == ["get", "save", "mark_published"]
    assert sorted(map(id, publisher.published)) == sorted(map(id, replies.values()))
    assert all(handled.saved[e.event_id].published for e in events)


async def test_one_threads_records_keep_their_order_while_threads_run_at_once() -> None:
    run, publisher, _ = runner()
    slow = [route("ai", "slow") for _ in range(3)]
    fast = route("ai", "fast")
    replies = {e.event_id: reply_to(e) for e in [*slow, fast]}
    fast_done = asyncio.Event()
    order: list[uuid.UUID] = []

    async def handler(event: RouteDecided) -> Sequence[Event]:
        if event.thread_id == "slow" and not order:
            # The first record of "slow" finishes only after "fast", which comes later in
            # the batch: it can, because the two threads are worked on at the same time.
            await asyncio.wait_for(fast_done.wait(), timeout=10)
        order.append(event.event_id)
        if event.thread_id == "fast":
            fast_done.set()
        return [replies[event.event_id]]

    await run.run_batch(batch_of(*slow, fast), RouteDecided, handler)
    assert order == [fast.event_id, *(e.event_id for e in slow)]
    slow_replies = [e for e in publisher.published if e.thread_id == "slow"]
    assert slow_replies == [replies[e.event_id] for e in slow]


async def test_a_record_repeated_in_one_batch_is_worked_on_once() -> None:
    run, publisher, handled = runner()
    event = route("ai")
    reply = reply_to(event)
    calls = 0

    async def handler(_: RouteDecided) -> Sequence[Event]:
        nonlocal calls
        calls += 1
        return [reply]

    await run.run_batch(batch_of(event, event), RouteDecided, handler)
    assert calls == 1
    assert publisher.published == [reply]
    assert handled.saved[event.event_id] == Handled([reply], True)


async def test_poison_in_a_batch_is_dead_lettered_and_the_rest_is_handled() -> None:
    publisher, dead_letters = MemoryPublisher(), MemoryDeadLetters()
    run = EventRunner(publisher=publisher, dead_letters=dead_letters, handled=MemoryHandled())
    good = route("ai")
    reply = reply_to(good)
    poison = Record("route.decided", 0, 1, b"t1", b"{not json", ())

    async def handler(_: RouteDecided) -> Sequence[Event]:
        return [reply]

    await run.run_batch([record_of(good, 0), poison], RouteDecided, handler)
    assert [record.offset for record, _ in dead_letters.letters] == [1]
    assert publisher.published == [reply]


async def test_a_thread_failing_for_good_does_not_undo_the_others() -> None:
    publisher, handled = MemoryPublisher(), MemoryHandled()
    run = EventRunner(
        publisher=publisher,
        dead_letters=MemoryDeadLetters(),
        handled=handled,
        policy=RetryPolicy(initial_backoff=0.001, transient_budget=0.0),
    )
    ok, broken = route("ai", "ok"), route("ai", "broken")
    reply = reply_to(ok)

    async def handler(event: RouteDecided) -> Sequence[Event]:
        if event.thread_id == "broken":
            raise ConnectionError("database unreachable")
        return [reply]

    with pytest.raises(ConnectionError):
        await run.run_batch(batch_of(ok, broken), RouteDecided, handler)
    # The finished record is saved and published, so the batch's redelivery skips it ...
    assert publisher.published == [reply]
    assert handled.saved[ok.event_id].published
    assert broken.event_id not in handled.saved

    async def recovered(event: RouteDecided) -> Sequence[Event]:
        assert event.thread_id == "broken", "the finished record was worked on again"
        return []

    await run.run_batch(batch_of(ok, broken), RouteDecided, recovered)
    assert publisher.published == [reply]  # ... and publishes nothing twice
    assert handled.saved[broken.event_id] == Handled([], True)


def quick_runner(
    dead_letters: MemoryDeadLetters, publisher: MemoryPublisher | None = None
) -> EventRunner:
    return EventRunner(
        publisher=publisher or MemoryPublisher(),
        dead_letters=dead_letters,
        handled=MemoryHandled(),
        policy=RetryPolicy(max_attempts=3, initial_backoff=0.001),
    )


async def test_a_failing_handler_is_tried_max_attempts_times_then_dead_lettered() -> None:
    dead_letters = MemoryDeadLetters()
    attempts = 0

    async def handler(_: RouteDecided) -> Sequence[Event]:
        nonlocal attempts
        attempts += 1
        raise ValueError("a bug")

    await quick_runner(dead_letters).run(record_of(route("ai")), RouteDecided, handler)
    assert attempts == 3
    assert [code for _, code in dead_letters.letters] == ["handler_failed"]


async def test_an_infrastructure_error_is_retried_until_it_passes() -> None:
    dead_letters, publisher = MemoryDeadLetters(), MemoryPublisher()
    event = route("ai")
    reply = reply_to(event)
    failures = 5  # more than max_attempts: infrastructure errors have a time budget instead

    async def handler(_: RouteDecided) -> Sequence[Event]:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionError("database unreachable")
        return [reply]

    await quick_runner(dead_letters, publisher).run(record_of(event), RouteDecided, handler)
    assert publisher.published == [reply]
    assert dead_letters.letters == []
