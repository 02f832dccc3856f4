"""A bound on concurrent model calls, with the waiting and running ones on gauges."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ._metrics import LLM_IN_FLIGHT, LLM_WAITING


class ModelSlots:
    """At most ``limit`` of one caller's model calls in flight at once; the others wait for
    a slot. Records of many threads are worked on at once, and a provider's rate limit
    should not turn a burst of them into failures."""

    def __init__(self, caller: str, limit: int) -> None:
        self._slots = asyncio.Semaphore(limit)
        self._waiting = LLM_WAITING.labels(caller)
        self._in_flight = LLM_IN_FLIGHT.labels(caller)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        self._waiting.inc()
        try:
            await self._slots.acquire()
        finally:
            self._waiting.dec()
        self._in_flight.inc()
        try:
            yield
        finally:
            self._in_flight.dec()
            self._slots.release()
