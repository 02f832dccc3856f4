"""Thread streams: the fan-out of a thread's deltas and messages to its streams, what a slow
reader costs, the bounds on streams, and the events as the clients read them."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from baton_contracts import MessageDelta, MessageSent, MessageSubmitted, encode
from baton_ingest.api.stream import events
from baton_ingest.live import (
    KEEP_ALIVE,
    Hub,
    Live,
    LiveFeed,
    LiveSettings,
    TooManyStreamsError,
    delta_item,
    message_item,
)
from baton_runtime import KafkaSettings

CAUSE = MessageSubmitted.first(thread_id="t-1", text="hi")
MESSAGE_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
ASKED = uuid.UUID("00000000-0000-4000-8000-000000000002")


def delta(sequence: int, text: str, message_id: uuid.UUID = MESSAGE_ID) -> MessageDelta:
    return MessageDelta.caused_by(
        CAUSE,
        message_id=message_id,
        in_reply_to=ASKED,
        sequence=sequence,
        text=text,
        agent_name="Baton AI",
    )


def sent(text: str, message_id: uuid.UUID = MESSAGE_ID) -> MessageSent:
    return MessageSent.caused_by(
        CAUSE,
        message_id=message_id,
        in_reply_to=ASKED,
        text=text,
        agent_name="Baton AI",
        provider="openai",
    )


def parse(chunk: bytes) -> list[tuple[str, str, dict[str, Any]]]:
    """(event, id, data) of each event in ``chunk``."""
    found = []
    for block in chunk.decode().split("\n\n"):
        if not block or block.startswith(":"):
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        found.append((fields["event"], fields["id"], json.loads(fields["data"])))
    return found


def test_the_events_are_in_the_documented_format() -> None:
    assert delta_item(delta(3, 'a "piece"\nof text')).data == (
        b"event: delta\n"
        b"id: 00000000-0000-4000-8000-000000000001:3\n"
        b'data: {"message_id": "00000000-0000-4000-8000-000000000001", '
        b'"in_reply_to": "00000000-0000-4000-8000-000000000002", "sequence": 3, '
        b'"text": "a \\"piece\\"\\nof text", "agent_name": "Baton AI"}\n\n'
    )
    [(event, event_id, data)] = parse(message_item(sent("Whole.")).data)
    assert (event, event_id) == ("message", str(MESSAGE_ID))
    assert data == {
        "message_id": str(MESSAGE_ID),
        "in_reply_to": str(ASKED),
        "text": "Whole.",
        "agent_name": "Baton AI",
        "provider": "openai",
        "notice": None,
    }


async def test_a_thread_s_events_reach_its_streams_only() -> None:
    hub = Hub(max_streams=10, per_thread=5, buffer_bytes=64 * 1024)
    mine, other = hub.open("t-1"), hub.open("t-2")
    assert hub.watching("t-1")
    assert not hub.watching("t-3")
    assert hub.publish("t-1", delta_item(delta(0, "Hel"))) == 1
    hub.publish("t-1", delta_item(delta(1, "lo")))
    hub.publish("t-1", message_item(sent("Hello")))
    chunk = await mine.next(1.0)
    assert chunk is not None
    # Deltas still waiting when their message arrives whole are not sent: it replaces them.
    assert [(e, i) for e, i, _ in parse(chunk)] == [("message", str(MESSAGE_ID))]
    assert await other.next(0.01) is None
    hub.close(mine)
    hub.close(mine)  # twice is harmless
    assert not hub.watching("t-1")


async def test_late_and_repeated_events_of_a_whole_message_are_dropped() -> None:
    hub = Hub(max_streams=10, per_thread=5, buffer_bytes=64 * 1024)
    stream = hub.open("t-1")
    hub.publish("t-1", delta_item(delta(0, "Hel")))
    assert [e for e, _, _ in parse(await stream.next(1.0) or b"")] == ["delta"]
    hub.publish("t-1", message_item(sent("Hello")))
    hub.publish("t-1", delta_item(delta(1, "lo")))  # from another topic, after the message
    hub.publish("t-1", message_item(sent("Hello")))  # redelivered
    assert [e for e, _, _ in parse(await stream.next(1.0) or b"")] == ["message"]
    assert await stream.next(0.01) is None


async def test_a_slow_reader_loses_deltas_then_the_stream_but_never_a_whole_message() -> None:
    hub = Hub(max_streams=10, per_thread=5, buffer_bytes=1000)
    stream = hub.open("t-1")
    other = uuid.uuid4()
    for n in range(20):
        hub.publish("t-1", delta_item(delta(n, "x" * 30)))
    assert stream.waiting_bytes <= 1000
    hub.publish("t-1", delta_item(delta(0, "y" * 10, message_id=other)))
    # The message arrives whole: the deltas waiting make room for it.
    hub.publish("t-1", message_item(sent("z" * 600, message_id=other)))
    chunk = await stream.next(1.0)
    assert chunk is not None
    got = parse(chunk)
    assert got[-1][0] == "message"
    sequences = [data["sequence"] for event, _, data in got if event == "delta"]
    assert sequences == list(range(len(sequences)))  # no gap: none after the first dropped
    # Once a piece of a reply is lost, its later pieces are not sent either.
    hub.publish("t-1", delta_item(delta(19, "late")))
    assert await stream.next(0.01) is None
    # A message that cannot fit even alone ends the stream: the client reads the history.
    hub.publish("t-1", message_item(sent("w" * 2000, message_id=uuid.uuid4())))
    assert stream.ended
    assert await stream.next(1.0) is None


def test_streams_are_bounded_per_instance_and_per_thread() -> None:
    hub = Hub(max_streams=3, per_thread=2, buffer_bytes=16 * 1024)
    first = hub.open("t-1")
    hub.open("t-1")
    with pytest.raises(TooManyStreamsError) as refused:
        hub.open("t-1")
    assert (refused.value.status, refused.value.code) == (429, "too_many_streams")
    hub.open("t-2")
    with pytest.raises(TooManyStreamsError):
        hub.open("t-3")
    hub.close(first)
    hub.open("t-3")
    assert hub.open_streams == 3


def test_the_feed_decodes_only_what_a_stream_here_waits_for() -> None:
    hub = Hub(max_streams=10, per_thread=5, buffer_bytes=16 * 1024)
    feed = LiveFeed(KafkaSettings(), hub, client_id="test")
    feed.take(b"t-9", b"not even json")  # nobody streams t-9 here: not decoded
    feed.take(None, b"{}")
    stream = hub.open("t-1")
    feed.take(b"t-1", b"not even json")  # a poison record is skipped
    feed.take(b"t-1", encode(delta(0, "Hi")))
    feed.take(b"t-1", encode(CAUSE))  # another type: not for streams
    assert feed.records == 5
    assert stream.waiting_bytes == len(delta_item(delta(0, "Hi")).data)


async def test_a_stream_keeps_alive_and_ends_at_its_age() -> None:
    live = Live.build(
        LiveSettings(keepalive_s=0.01, max_stream_s=0.2), KafkaSettings(), client_id="t"
    )
    stream = live.hub.open("t-1")
    live.hub.publish("t-1", delta_item(delta(0, "Hi")))
    chunks = [chunk async for chunk in events(live, stream)]
    assert parse(chunks[0])[0][0] == "delta"
    assert KEEP_ALIVE in chunks[1:]
    assert not live.hub.watching("t-1")  # ended: its place is given back


async def test_a_stream_the_hub_ends_stops_at_once() -> None:
    live = Live.build(LiveSettings(keepalive_s=60), KafkaSettings(), client_id="t")
    stream = live.hub.open("t-1")
    reading = asyncio.create_task(anext(aiter(events(live, stream)), None))
    await asyncio.sleep(0.01)
    live.hub.end_all()
    assert await asyncio.wait_for(reading, 1.0) is None
