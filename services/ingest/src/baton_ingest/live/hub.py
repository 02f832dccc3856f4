"""The thread streams of one instance, and the fan-out of a thread's events to them. Free of
I/O.

Each event is encoded once, as the server-sent event every stream of its thread sends, and
offered to those streams. A stream holds what its reader has not taken yet, up to a number
of bytes: past it, deltas (a preview) are dropped and a whole message is kept; a message
that still does not fit ends the stream, and its client, reconnecting, reads the thread's
messages. A slow reader costs bounded memory and still ends up right.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from baton_contracts import MessageDelta, MessageSent
from baton_runtime import ApiError

KEEP_ALIVE = b": keep-alive\n\n"
"""A comment: clients skip it, proxies see traffic and keep the stream open."""
FINISHED_REMEMBERED = 256
"""Messages a stream remembers as sent whole, to drop their late or repeated deltas."""


@dataclass(frozen=True)
class Item:
    """One event as the streams send it."""

    message_id: uuid.UUID
    whole: bool
    """A whole message (``message``), not a piece of one (``delta``)."""
    data: bytes


def sse(event: str, event_id: str, data: dict[str, Any]) -> bytes:
    """One server-sent event; its data is one line of JSON (no line break can split it)."""
    body = json.dumps(data, ensure_ascii=False)
    return f"event: {event}\nid: {event_id}\ndata: {body}\n\n".encode()


def delta_item(event: MessageDelta) -> Item:
    in_reply_to = str(event.in_reply_to) if event.in_reply_to else None
    data = {
        "message_id": str(event.message_id),
        "in_reply_to": in_reply_to,
        "sequence": event.sequence,
        "text": event.text,
        "agent_name": event.agent_name,
    }
    return Item(event.message_id, False, sse("delta", f"{event.message_id}:{event.sequence}", data))


def message_item(event: MessageSent) -> Item:
    data = {
        "message_id": str(event.message_id),
        "in_reply_to": str(event.in_reply_to) if event.in_reply_to else None,
        "text": event.text,
        "agent_name": event.agent_name,
        "provider": event.provider,
        "notice": event.notice,
    }
    return Item(event.message_id, True, sse("message", str(event.message_id), data))


class Stream:
    """One open stream of a thread: the events waiting for its reader."""

    def __init__(self, thread_id: str, *, limit_bytes: int) -> None:
        self.thread_id = thread_id
        self._limit = limit_bytes
        self._queue: deque[Item] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self._finished: OrderedDict[uuid.UUID, None] = OrderedDict()
        self._cut: set[uuid.UUID] = set()  # messages whose deltas were dropped
        self.ended = False
        """The stream must end: it fell too far behind, or the instance is stopping."""

    @property
    def waiting_bytes(self) -> int:
        return self._bytes

    def offer(self, item: Item) -> None:
        if self.ended or item.message_id in self._finished:
            return  # a whole message was offered: its late deltas and repeats are not news
        if not item.whole and item.message_id in self._cut:
            return  # with a piece missing, the rest would only show a gap
        if item.whole:
            self._remember(item.message_id)
            self._drop_deltas(lambda waiting: waiting.message_id == item.message_id)
        if self._bytes + len(item.data) > self._limit:
            if not item.whole:
                self._cut.add(item.message_id)
                return
            self._drop_deltas(lambda _: True)
            if self._bytes + len(item.data) > self._limit:
                self.end()
                return
        self._queue.append(item)
        self._bytes += len(item.data)
        self._wake.set()

    def end(self) -> None:
        self.ended = True
        self._queue.clear()
        self._bytes = 0
        self._wake.set()

    async def next(self, timeout: float) -> bytes | None:
        """Everything waiting, as one chunk to write; None when nothing came within
        ``timeout`` seconds or the stream ended."""
        if not self._queue and not self.ended:
            self._wake.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                return None
        if self.ended:
            return None
        chunk = b"".join(item.data for item in self._queue)
        self._queue.clear()
        self._bytes = 0
        return chunk

    def _remember(self, message_id: uuid.UUID) -> None:
        self._finished[message_id] = None
        self._cut.discard(message_id)
        if len(self._finished) > FINISHED_REMEMBERED:
            self._finished.popitem(last=False)

    def _drop_deltas(self, which: Any) -> None:
        kept = deque(item for item in self._queue if item.whole or not which(item))
        if len(kept) == len(self._queue):
            return
        for item in self._queue:
            if not item.whole and which(item):
                self._cut.add(item.message_id)
        self._queue = kept
        self._bytes = sum(len(item.data) for item in kept)


class TooManyStreamsError(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(429, "too_many_streams", message)


class Hub:
    """The streams open on this instance, by thread."""

    def __init__(self, *, max_streams: int, per_thread: int, buffer_bytes: int) -> None:
        self._max = max_streams
        self._per_thread = per_thread
        self._buffer = buffer_bytes
        self._by_thread: dict[str, set[Stream]] = {}
        self._count: Counter[str] = Counter()

    @property
    def open_streams(self) -> int:
        return sum(self._count.values())

    def open(self, thread_id: str) -> Stream:
        if self.open_streams >= self._max:
            raise TooManyStreamsError("this instance serves as many streams as it may; retry")
        if self._count[thread_id] >= self._per_thread:
            raise TooManyStreamsError(
                f"this thread has {self._per_thread} streams open already; close one"
            )
        stream = Stream(thread_id, limit_bytes=self._buffer)
        self._by_thread.setdefault(thread_id, set()).add(stream)
        self._count[thread_id] += 1
        return stream

    def close(self, stream: Stream) -> None:
        streams = self._by_thread.get(stream.thread_id)
        if streams is None or stream not in streams:
            return
        streams.discard(stream)
        self._count[stream.thread_id] -= 1
        if not streams:
            del self._by_thread[stream.thread_id]
            del self._count[stream.thread_id]

    def watching(self, thread_id: str) -> bool:
        return thread_id in self._by_thread

    def publish(self, thread_id: str, item: Item) -> int:
        """Offer ``item`` to the thread's streams; how many."""
        streams = self._by_thread.get(thread_id, ())
        for stream in streams:
            stream.offer(item)
        return len(streams)

    def end_all(self) -> None:
        """End every stream (the feed lost its place, or the instance stops): clients
        reconnect and read what they missed."""
        for streams in self._by_thread.values():
            for stream in streams:
                stream.end()
