"""Group commit: small writes from many callers, made in one round trip."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupedWrites(Generic[T]):
    """Hands ``write`` everything submitted while its previous call was in flight.

    A lone caller's item is written at once; under load, the items of all callers that
    arrive during one write share the next. Each caller waits for the write that carried
    its item and gets that write's error, if any. A caller that is cancelled while waiting
    does not cancel the write.
    """

    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._items: list[T] = []
        self._written: asyncio.Future[None] | None = None  # the next write's outcome
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
            # Retrieve the outcome even when every caller of this write was cancelled.
            self._written.add_done_callback(lambda f: f.cancelled() or f.exception())
        written = self._written
        self._items.append(item)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        await asyncio.shield(written)

    async def _drain(self) -> None:
        while self._items:
            items, written = self._items, self._written
            self._items, self._written = [], None
            assert written is not None
            try:
                await self._write(items)
            except asyncio.CancelledError:
                # Shutting down: nobody is left to write for the waiting callers.
                for waiting in (written, self._written):
                    if waiting is not None:
                        waiting.cancel()
                raise
            except Exception as exc:
                written.set_exception(exc)
            else:
                written.set_result(None)
