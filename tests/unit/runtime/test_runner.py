"""The event runner's bookkeeping: what it reads and writes for each record (in memory)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from baton_contracts import Event, MessageReceived, RouteDecided
from baton_runtime.consumer import EventRunner, Record
from baton_runtime.history import UnknownThreadError
from baton_runtime.outputs import Handled, HandledEvents


class MemoryPublisher:
    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, events: Iterable[Event]) -> None:
        self.published += events


class MemoryDeadLetters:
    def __init__(self) -> None:
        self.letters: list[tuple[Record, str]] = []

    async def send(self, record: Record, *, code: str, reason: str) -> None:
        self.letters.append((record, code))


class MemoryHandled(HandledEvents):
    """The handled-events log in a dict, recording every call."""

    def __init__(self) -> None:
        self.saved: dict[uuid.UUID, Handled] = {}
        self.calls: list[str] = []

    async def get(self, event_id: uuid.UUID) -> Handled | None:
        self.calls.append("get")
        return self.saved.get(event_id)

    async def save(
        self, event_id: uuid.UUID, events: Sequence[Event], *, published: bool = False
    ) -> None:
        self.calls.append("save")
        self.saved.setdefault(event_id, Handled(list(events), published))

    async def mark_published(self, event_id: uuid.UUID) -> None:
        self.calls.append("mark_published")
        self.saved[event_id] = Handled(self.saved[event_id].events, True)


def route(handler: str) -> RouteDecided:
    received = MessageReceived.first(thread_id="t1", message_id=uuid.uuid4(), text="hi")
    return RouteDecided.caused_by(
        received,
        message_id=received.message_id,
        handler=handler,
        strategy="default",
        reason="default route",
        text="hi",
    )


def record_of(event: Event) -> Record:
    return Record(
        topic="route.decided",
        partition=0,
        offset=7,
        key=b"t1",
        value=event.model_dump_json().encode(),
        headers=(),
    )


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
