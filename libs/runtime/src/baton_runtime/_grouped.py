"""Group commit: small reads and writes from many callers, made in one round trip."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Group(Generic[T, R]):
    items: list[T] = field(default_factory=list)
    results: asyncio.Future[Sequence[R | Exception]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def __post_init__(self) -> None:
        # Retrieve the outcome even when every caller of this group was cancelled.
        self.results.add_done_callback(lambda f: f.cancelled() or f.exception())


class Grouped(Generic[T, R]):
    """Hands ``run`` everything submitted while its previous call was in flight.

    A lone caller's item goes at once; under load, the items of all callers that arrive
    during one call share the next. ``run`` returns one result per item, in order: a value,
    or an exception that only that item's caller gets. An exception that escapes ``run``
    goes to every caller of that call. A caller that is cancelled while waiting does not
    cancel the call.
    """

    def __init__(self, run: Callable[[list[T]], Awaitable[Sequence[R | Exception]]]) -> None:
        self._run = run
        self._next: _Group[T, R] | None = None
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        if self._next is None:
            self._next = _Group()
        group = self._next
        index = len(group.items)
        group.items.append(item)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain())
        result = (await asyncio.shield(group.results))[index]
        if isinstance(result, Exception):
            raise result
        return result

    async def _drain(self) -> None:
        while self._next is not None:
            group, self._next = self._next, None
            try:
                results = await self._run(group.items)
            except asyncio.CancelledError:
                # Shutting down: nobody is left to run for the waiting callers.
                for waiting in (group, self._next):
                    if waiting is not None:
                        waiting.results.cancel()
                raise
            except Exception as exc:
                group.results.set_exception(exc)
            else:
                if len(results) != len(group.items):
                    group.results.set_exception(
                        RuntimeError(f"{len(results)} results for {len(group.items)} items")
                    )
                else:
                    group.results.set_result(results)


class GroupedWrites(Grouped[T, None]):
    """:class:`Grouped` for writes that return nothing: ``write`` takes the items of all
    callers at once, and each caller gets its error, if any."""

    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        async def run(items: list[T]) -> Sequence[None]:
            await write(items)
            return [None] * len(items)

        super().__init__(run)
