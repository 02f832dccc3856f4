"""Where the live console's changes come from: the ``tickets`` collection itself.

Every change of a ticket (created, claimed, released, replied to, a user message attached,
resolved, lease or SLA swept) is one write that sets its ``updated_at``. Each instance reads
the tickets changed since the newest one it has seen, a few times a second, and hands each
new version to its hub. Because MongoDB is shared, a change written through any instance
reaches the streams of every instance; one query per instance, however many agents watch
(decision 17 says why not Kafka events).

``updated_at`` comes from the writing instance's clock, and two writes may be stored in the
other order than their stamps. So every read goes back ``overlap_s`` before the newest stamp
seen, and versions met before are skipped by (ticket, ``updated_at``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from baton_contracts import utc_now

from .hub import Hub, TicketChange

log = logging.getLogger(__name__)


class ChangeSource(Protocol):
    async def changed_since(self, since: datetime, *, limit: int) -> list[TicketChange]:
        """Ticket versions with ``updated_at >= since``, oldest first, at most ``limit``."""
        ...

    async def newest(self) -> datetime | None:
        """The newest ``updated_at`` of any ticket."""
        ...


class TicketFeed:
    def __init__(
        self,
        source: ChangeSource,
        hub: Hub,
        *,
        overlap_s: float,
        batch: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._source = source
        self._hub = hub
        self._overlap = timedelta(seconds=overlap_s)
        self._batch = batch
        self._now = clock
        self._high: datetime | None = None
        self._seen: dict[tuple[str, datetime], None] = {}
        self._failing = False

    @property
    def high_water(self) -> datetime | None:
        """The newest ``updated_at`` handed to the hub (or the start, before any)."""
        return self._high

    async def __call__(self) -> None:
        """One round; a failing round is retried by the caller's loop, and the first round
        that works again tells every stream to resync (changes may have gone by)."""
        try:
            await self._round()
        except Exception:
            self._failing = True
            raise
        if self._failing:
            self._failing = False
            self._hub.resync_all("feed_recovered")

    async def _round(self) -> None:
        if self._high is None:
            # Start at the newest change: a stream's first event ("ready") makes its
            # console read everything, so nothing older needs pushing.
            self._high = await self._source.newest() or self._now()
            # What the overlap would read again was there before any stream: not news.
            window = await self._source.changed_since(self._high - self._overlap, limit=self._batch)
            self._seen = {(c.ticket_id, c.updated_at): None for c in window}
            return
        changes = await self._source.changed_since(self._high - self._overlap, limit=self._batch)
        if len(changes) >= self._batch:
            # More changes than one read takes: rather than fall behind, every stream
            # refetches, and the feed goes on from the newest change.
            log.warning("live feed: over %d ticket changes at once; streams resync", self._batch)
            self._hub.resync_all("burst")
            self._high = await self._source.newest() or self._high
            self._seen.clear()
            return
        for change in changes:
            key = (change.ticket_id, change.updated_at)
            if key in self._seen:
                continue
            self._seen[key] = None
            self._hub.publish(change)
            if change.updated_at > self._high:
                self._high = change.updated_at
        oldest_kept = self._high - self._overlap
        for key in [k for k in self._seen if k[1] < oldest_kept]:
            del self._seen[key]
