"""Group commit: small reads and writes from many callers, made in one round trip."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


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


class Lingering(Generic[T]):
    """Writes that nobody waits for: the items added within ``linger`` seconds of the first
    one go to ``write`` together.

    For bookkeeping whose only use is to spare work later, such as a flag that an event went
    out: at a trickle :class:`Grouped` still makes one command per item, while this makes
    one per ``linger``. Items still lingering when the process dies are lost, so only such
    bookkeeping belongs here. A failed write is logged and its items go with the next one,
    after a backoff; :meth:`flush` writes everything now, e.g. before shutdown. An item may
    be written twice (a write cut short by a flush), so ``write`` must be idempotent.

    ``item in lingering`` tells whether an item waits for its write or is being written:
    what the store does not say yet, this process knows.
    """

    def __init__(
        self,
        write: Callable[[list[T]], Awaitable[None]],
        *,
        linger: float,
        what: str,
        max_backoff: float = 5.0,
    ) -> None:
        self._write = write
        self._linger = linger
        self._what = what
        self._max_backoff = max_backoff
        self._pending: list[T] = []
        self._writing: list[T] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, items: Iterable[T]) -> None:
        self._pending.extend(items)
        if self._pending and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._drain())

    @property
    def pending(self) -> int:
        return len(self._pending)

    def __contains__(self, item: object) -> bool:
        return item in self._pending or item in self._writing

    async def flush(self) -> None:
        """Write what is lingering now; an error is raised to the caller (the items stay)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._write_pending()

    async def _drain(self) -> None:
        delay = self._linger
        while self._pending:
            await asyncio.sleep(delay)
            try:
                await self._write_pending()
            except Exception as exc:
                delay = min(max(delay, self._linger) * 2, self._max_backoff)
                log.warning("%s failed, trying again in %.1f s: %r", self._what, delay, exc)
            else:
                delay = self._linger

    async def _write_pending(self) -> None:
        items, self._pending = self._pending, []
        if not items:
            return
        self._writing = items
        try:
            await self._write(items)
        except BaseException:
            self._pending[:0] = items  # cancelled or failed: they go with the next write
            raise
        finally:
            self._writing = []
