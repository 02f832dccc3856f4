"""The live console's fan-out, free of I/O: which agent may hear of which ticket change, and
one bounded queue per open stream.

A change is pushed as a hint ("ticket X of thread Y changed"), never as the ticket itself:
the console refetches what it shows through the ordinary API, which applies the same access
rules as always. A stream whose reader is slow gets at most ``queue_size`` hints waiting;
one more and its queue is replaced by a single ``resync`` (refetch everything), so a slow
client costs a bounded amount of memory and still ends up correct.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from baton_contracts import TicketKind, TicketStatus
from baton_runtime import ApiError

from ..domain import Agent

ResyncReason = Literal["overflow", "burst", "feed_recovered", "recheck"]
EndReason = Literal["revoked", "reconnect"]
TRACKED_IDS = 10_000
"""How many ticket ids a stream remembers between two re-checks (see ``Stream.offered``)."""


@dataclass(frozen=True)
class TicketChange:
    """One stored version of a ticket, as the feed reads it."""

    ticket_id: str
    thread_id: str
    kind: TicketKind
    status: TicketStatus
    department: str | None
    holder_id: str | None
    created_at: datetime
    updated_at: datetime

    @property
    def change(self) -> Literal["created", "updated"]:
        return "created" if self.created_at == self.updated_at else "updated"

    def data(self) -> dict[str, Any]:
        return {
            "ticket_id": self.ticket_id,
            "thread_id": self.thread_id,
            "kind": self.kind,
            "status": self.status,
            "department": self.department,
            "holder_id": self.holder_id,
            "change": self.change,
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class Resync:
    """Refetch everything: hints were dropped (or may have been missed)."""

    reason: ResyncReason


LiveEvent = TicketChange | Resync


def may_see(agent: Agent, change: TicketChange) -> bool:
    """The agent hears of a ticket it could read: of its departments (all, for a
    supervisor), without one, or held by it."""
    return agent.serves(change.department) or change.holder_id == agent.agent_id


def sse(event: str, data: dict[str, Any]) -> bytes:
    """One server-sent event; its data is one line of JSON (no newline can split it)."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


KEEP_ALIVE = b": keep-alive\n\n"
"""A comment line: EventSource ignores it, proxies see traffic and keep the stream open."""


def encode(event: LiveEvent) -> bytes:
    if isinstance(event, Resync):
        return sse("resync", {"reason": event.reason})
    return sse("ticket", event.data())


@dataclass(eq=False)
class Stream:
    """One agent's open stream: the hints waiting for it, at most ``limit`` of them."""

    agent: Agent
    token_hash: str
    limit: int
    stream_id: int = 0
    _queue: deque[LiveEvent] = field(default_factory=deque)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _resync_waiting: bool = False
    offered: set[str] | None = field(default_factory=set)
    """Tickets offered since the last re-check (None: too many to track; the feed works)."""

    def offer(self, event: LiveEvent) -> None:
        if isinstance(event, TicketChange):
            self._remember(event.ticket_id)
        if self._resync_waiting:
            return  # the resync already waiting covers this hint
        if isinstance(event, Resync) or len(self._queue) >= self.limit:
            # The reader falls behind (or hints were lost): what waits is dropped for one
            # resync, so memory stays bounded and the console still ends up right.
            self._queue.clear()
            self._queue.append(event if isinstance(event, Resync) else Resync("overflow"))
            self._resync_waiting = True
        else:
            self._queue.append(event)
        self._wake.set()

    def _remember(self, ticket_id: str) -> None:
        if self.offered is None:
            return
        self.offered.add(ticket_id)
        if len(self.offered) > TRACKED_IDS:
            self.offered = None

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def take(self) -> LiveEvent | None:
        if not self._queue:
            self._wake.clear()
            return None
        event = self._queue.popleft()
        if isinstance(event, Resync):
            self._resync_waiting = False
        return event

    async def next(self, timeout: float) -> LiveEvent | None:
        """The next hint, or None when none came within ``timeout`` seconds."""
        event = self.take()
        if event is not None:
            return event
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return None
        return self.take()

    def start_tracking(self) -> set[str] | None:
        """What was offered since the last call; tracking starts again from nothing."""
        offered, self.offered = self.offered, set()
        return offered


class TooManyStreamsError(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(429, "too_many_streams", message)


class Hub:
    """The streams open on this instance, and the fan-out of changes to them."""

    def __init__(self, *, per_agent: int, total: int, queue_size: int) -> None:
        self._per_agent = per_agent
        self._total = total
        self._queue_size = queue_size
        self._streams: dict[int, Stream] = {}
        self._by_agent: Counter[str] = Counter()
        self._ids = itertools.count(1)

    def open(self, agent: Agent, *, token_hash: str) -> Stream:
        if len(self._streams) >= self._total:
            raise TooManyStreamsError("this instance serves as many streams as it may; retry")
        if self._by_agent[agent.agent_id] >= self._per_agent:
            raise TooManyStreamsError(
                f"{agent.name} has {self._per_agent} streams open already; close one"
            )
        stream = Stream(
            agent=agent, token_hash=token_hash, limit=self._queue_size, stream_id=next(self._ids)
        )
        self._streams[stream.stream_id] = stream
        self._by_agent[agent.agent_id] += 1
        return stream

    def close(self, stream: Stream) -> None:
        if self._streams.pop(stream.stream_id, None) is None:
            return
        self._by_agent[stream.agent.agent_id] -= 1
        if self._by_agent[stream.agent.agent_id] <= 0:
            del self._by_agent[stream.agent.agent_id]

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def publish(self, change: TicketChange) -> int:
        """Offer ``change`` to every stream whose agent may see it; how many."""
        reached = 0
        for stream in list(self._streams.values()):
            if may_see(stream.agent, change):
                stream.offer(change)
                reached += 1
        return reached

    def resync_all(self, reason: ResyncReason) -> None:
        for stream in list(self._streams.values()):
            stream.offer(Resync(reason))
