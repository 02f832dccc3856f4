"""With tracing on, follow-ups that a crash left to the sweep are carried out in the trace of
the change that stored them, on the real MongoDB-wire server."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta

import pytest
from opentelemetry import trace
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import Event, MessageReceived, utc_now
from baton_runtime import Document, Outbox, publishing
from tests.support.tracing import recording


class TracedPublisher:
    """Notes the trace each publish happens in."""

    def __init__(self) -> None:
        self.traces: list[int] = []

    async def publish(self, events: Iterable[Event]) -> None:
        list(events)
        self.traces.append(trace.get_current_span().get_span_context().trace_id)


async def test_the_sweep_publishes_in_the_trace_of_the_change(
    db: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    things = db[f"outbox-{uuid.uuid4().hex[:8]}"]
    event = MessageReceived.first(thread_id="t1", message_id=uuid.uuid4(), text="hi")
    with recording(monkeypatch) as spans:
        with spans.tracer.start_as_current_span("change") as change:
            # The change is stored with its follow-up; the process dies before publishing.
            await things.insert_one(
                {"_id": "x", **Outbox(TracedPublisher()).fields([publishing(event)])}
            )
        publisher = TracedPublisher()
        sweeper = Outbox(publisher, clock=lambda: utc_now() + timedelta(minutes=1))
        assert await sweeper.sweep(things, older_than=timedelta(seconds=5)) == 1
    assert publisher.traces == [change.get_span_context().trace_id]
    relay = spans.named(f"outbox relay {things.name}")
    assert relay.parent is not None
    assert relay.parent.span_id == change.get_span_context().span_id
