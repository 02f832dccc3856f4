"""The event runner's rules for one record, with the log and Kafka in memory."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from baton_contracts import Event, MessageReceived, RouteDecided
from baton_conversations import UnknownThreadError
from baton_runtime import Entry, EventRunner, Handled, Record, RetryPolicy, Subscription, publishing
from baton_runtime._outbox import events_of
from tests.support.memory import DeadPublisher, MemoryDeadLetters, MemoryPublisher


class MemoryHandled:
    """The handled-events log in a dict, recording every call."""

    def __init__(self) -> None:
        self.waiting: dict[uuid.UUID, list[Entry]] = {}
        self.produced: dict[uuid.UUID, list[Event]] = {}
        self.calls: list[str] = []
        self.publisher = MemoryPublisher()

    async def get(self, event_id: uuid.UUID) -> Handled | None:
        self.calls.append("get")
        if event_id not in self.produced:
            return None
        return Handled(self.produced[event_id], self.waiting[event_id])

    async def save(self, event_id: uuid.UUID, events: Sequence[Event]) -> list[Entry]:
        self.calls.append("save")
        self.produced.setdefault(event_id, list(events))
        entries = [publishing(e) for e in events]
        self.waiting.setdefault(event_id, entries)
        return self.waiting[event_id]

    async def deliver(self, event_id: uuid.UUID, entries: Sequence[Entry]) -> None:
        self.calls.append("deliver")
        await self.publisher.publish(events_of(entries))
        self.waiting[event_id] = []


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
    )


def reply_to(event: RouteDecided) -> MessageReceived:
    return MessageReceived.first(thread_id=event.thread_id, message_id=uuid.uuid4(), text="re")


def on_routes(handler, wants=None) -> Subscription[RouteDecided]:  # type: ignore[no-untyped-def]
    return Subscription("route.decided", RouteDecided, handler, wants)


def runner(
    *, dead_letters: MemoryDeadLetters | None = None, handled: MemoryHandled | None = None
) -> tuple[EventRunner, MemoryHandled]:
    handled = handled or MemoryHandled()
    run = EventRunner(
        publisher=handled.publisher,
        dead_letters=dead_letters or MemoryDeadLetters(),
        handled=handled,
        policy=RetryPolicy(max_attempts=3, initial_backoff=0.001),
    )
    return run, handled


async def test_an_event_the_service_does_not_want_is_not_worked_on() -> None:
    run, handled = runner()
    calls: list[RouteDecided] = []

    async def handler(event: RouteDecided) -> Sequence[Event]:
        calls.append(event)
        return ()

    outcome = await run.run(
        record_of(route("ai")), on_routes(handler, lambda e: e.handler == "human")
    )
    assert outcome == "skipped"
    assert calls == []
    assert handled.calls == []  # not even a read of the log


async def test_produced_events_are_saved_then_delivered_and_a_redelivery_repeats_nothing() -> None:
    run, handled = runner()
    event = route("ai")
    reply = reply_to(event)
    calls = 0

    async def handler(_: RouteDecided) -> Sequence[Event]:
        nonlocal calls
        calls += 1
        return [reply]

    assert await run.run(record_of(event), on_routes(handler)) == "handled"
    assert handled.calls == ["get", "save", "deliver"]
    assert handled.publisher.published == [reply]

    assert await run.run(record_of(event), on_routes(handler)) == "replayed"
    assert calls == 1  # never worked on twice ...
    assert handled.publisher.published == [reply]  # ... nor published twice


async def test_a_handler_that_produced_nothing_is_logged_with_one_write() -> None:
    run, handled = runner()
    event = route("human")

    async def handler(_: RouteDecided) -> Sequence[Event]:
        return ()

    await run.run(record_of(event), on_routes(handler))
    assert handled.calls == ["get", "save"]


async def test_a_redelivery_publishes_what_the_first_run_saved_but_never_published() -> None:
    handled = MemoryHandled()
    event = route("ai")
    reply = reply_to(event)
    # The first run saved its output, and its process died before it was published.
    handled.produced[event.event_id] = [reply]
    handled.waiting[event.event_id] = [publishing(reply)]
    run, _ = runner(handled=handled)

    async def handler(_: RouteDecided) -> Sequence[Event]:
        raise AssertionError("a replay must not run the handler")

    assert await run.run(record_of(event), on_routes(handler)) == "replayed"
    assert handled.publisher.published == [reply]


async def test_a_domain_refusal_is_dead_lettered_at_once_with_its_code() -> None:
    dead_letters = MemoryDeadLetters()
    run, _ = runner(dead_letters=dead_letters)
    attempts = 0

    async def handler(event: RouteDecided) -> Sequence[Event]:
        nonlocal attempts
        attempts += 1
        raise UnknownThreadError(f"thread {event.thread_id!r} does not exist")

    assert await run.run(record_of(route("ai")), on_routes(handler)) == "dead_lettered"
    assert attempts == 1  # a verdict, not retried
    assert [code for _, code in dead_letters.letters] == ["unknown_thread"]


async def test_an_undecodable_record_is_dead_lettered_with_the_reason() -> None:
    dead_letters = MemoryDeadLetters()
    run, handled = runner(dead_letters=dead_letters)

    async def handler(_: RouteDecided) -> Sequence[Event]:
        raise AssertionError("never called")

    poison = Record("route.decided", 0, 1, b"t1", b"{not json")
    assert await run.run(poison, on_routes(handler)) == "dead_lettered"
    assert [(r.offset, code) for r, code in dead_letters.letters] == [(1, "invalid_json")]
    assert handled.calls == []


async def test_a_failing_handler_is_tried_max_attempts_times_then_dead_lettered() -> None:
    dead_letters = MemoryDeadLetters()
    run, _ = runner(dead_letters=dead_letters)
    attempts = 0

    async def handler(_: RouteDecided) -> Sequence[Event]:
        nonlocal attempts
        attempts += 1
        raise ValueError("a bug")

    await run.run(record_of(route("ai")), on_routes(handler))
    assert attempts == 3
    assert [code for _, code in dead_letters.letters] == ["handler_failed"]


async def test_an_infrastructure_error_is_retried_until_it_passes() -> None:
    dead_letters = MemoryDeadLetters()
    run, handled = runner(dead_letters=dead_letters)
    event = route("ai")
    reply = reply_to(event)
    failures = 5  # more than max_attempts: infrastructure errors are not counted

    async def handler(_: RouteDecided) -> Sequence[Event]:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionError("database unreachable")
        return [reply]

    assert await run.run(record_of(event), on_routes(handler)) == "handled"
    assert handled.publisher.published == [reply]
    assert dead_letters.letters == []


async def test_without_a_log_the_output_is_published_directly() -> None:
    publisher = MemoryPublisher()
    run = EventRunner(publisher=publisher, dead_letters=MemoryDeadLetters())
    event = route("ai")
    reply = reply_to(event)

    async def handler(_: RouteDecided) -> Sequence[Event]:
        return [reply]

    assert await run.run(record_of(event), on_routes(handler)) == "handled"
    assert publisher.published == [reply]


async def test_a_publish_that_keeps_failing_keeps_the_record_unfinished() -> None:
    import asyncio

    run = EventRunner(
        publisher=DeadPublisher(),
        dead_letters=MemoryDeadLetters(),
        policy=RetryPolicy(initial_backoff=0.001, max_backoff=0.002),
    )
    event = route("ai")

    async def handler(_: RouteDecided) -> Sequence[Event]:
        return [reply_to(event)]

    task = asyncio.create_task(run.run(record_of(event), on_routes(handler)))
    await asyncio.sleep(0.1)
    assert not task.done()  # retried for as long as Kafka is away; never dropped
    task.cancel()
