"""A reply's text on its way to the user while the model writes it: ``message.delta``s.

Deltas are a preview: they go to Kafka directly (not through an outbox: a delta lost in a
crash is replaced by the reply's ``message.sent``, which is what counts). The model's pieces
are a few characters each; they are coalesced, so a reply is a handful of records: the
first piece goes out at once, and each later delta holds what came during ``interval_s``
after the previous one, or ``max_chars``, whichever comes first. Publishing runs beside
the model call, so a slow broker never holds up reading the model's answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from baton_contracts import MessageDelta
from baton_runtime import EventPublisher

from .llm import Decisions
from .metrics import DELTAS

log = logging.getLogger(__name__)

Gate = Callable[[Decisions | None], Awaitable[bool]]
"""Whether a reply whose text begins now, with these decisions, may stream."""
MakeDelta = Callable[[int, str], MessageDelta]
"""The delta of sequence number ``n`` carrying ``text``."""


@dataclass(frozen=True)
class StreamSettings:
    """How a reply's pieces are coalesced into deltas."""

    interval_s: float
    max_chars: int


class ReplyStream:
    """One reply's deltas: a :class:`~baton_ai_responder.llm.ReplyListener` that publishes
    what it hears, numbered from 0 for each attempt of the model call.

    The turn that owns it calls :meth:`finish` before it announces the reply (so every
    delta is out before ``message.sent``), or :meth:`close` when the reply is not sent."""

    def __init__(
        self,
        publisher: EventPublisher,
        *,
        gate: Gate,
        delta: MakeDelta,
        settings: StreamSettings,
    ) -> None:
        self._publisher = publisher
        self._gate = gate
        self._delta = delta
        self._settings = settings
        self._hearing = False
        self._pending: list[str] = []
        self._size = 0
        self._sequence = 0
        self._wake = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._ending = False
        self._task: asyncio.Task[None] | None = None
        self._failed = False

    @property
    def streamed(self) -> bool:
        """Whether text of this attempt is on its way to the user (or already there)."""
        return self._hearing and (self._sequence > 0 or self._size > 0)

    async def attempt(self) -> None:
        """A new attempt: it starts from sequence 0, and what the last one left unsent is
        dropped (what it sent is superseded, as ``message.delta``'s contract says)."""
        await self.close()
        self._hearing, self._sequence, self._ending, self._failed = False, 0, False, False

    async def decided(self, decisions: Decisions | None) -> bool:
        self._hearing = await self._gate(decisions)
        return self._hearing

    def text(self, piece: str) -> None:
        if not self._hearing or self._failed or not piece:
            return
        self._pending.append(piece)
        self._size += len(piece)
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="reply-deltas")
        if self._size >= self._settings.max_chars:
            self._flush_now.set()
        self._wake.set()

    async def finish(self) -> None:
        """Publish what is left and wait until every delta is out."""
        task = self._task
        if task is None:
            return
        self._ending = True
        self._flush_now.set()
        self._wake.set()
        await task
        self._task = None

    async def close(self) -> None:
        """Stop: what was not published yet is dropped."""
        task, self._task = self._task, None
        self._pending.clear()
        self._size = 0
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last = -float("inf")
        while True:
            await self._wake.wait()
            self._wake.clear()
            wait = last + self._settings.interval_s - loop.time()
            if wait > 0 and not self._flush_now.is_set():
                # Coalesce: what comes within the interval goes out with this.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._flush_now.wait()
            self._flush_now.clear()
            if self._failed:
                self._pending.clear()
                self._size = 0
            if self._pending:
                text = "".join(self._pending)
                self._pending.clear()
                self._size = 0
                await self._publish(text)
                last = loop.time()
            if self._ending and not self._pending:
                return

    async def _publish(self, text: str) -> None:
        limit = self._settings.max_chars
        events = []
        for start in range(0, len(text), limit):
            events.append(self._delta(self._sequence, text[start : start + limit]))
            self._sequence += 1
        try:
            await self._publisher.publish(events)
        except Exception:
            # A preview: the reply still goes out whole in message.sent.
            log.warning("deltas not published; the reply goes out whole", exc_info=True)
            self._failed = True
        else:
            DELTAS.inc(len(events))
