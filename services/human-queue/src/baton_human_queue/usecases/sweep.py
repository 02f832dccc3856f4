"""The queue's sweep: lapsed claims back to the queue, SLA breaches flagged, and the
follow-ups a crash left on tickets carried out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from baton_contracts import utc_now
from baton_runtime import publishing

from .. import metrics
from ..events import sla_breached_event
from ..followups import lapse
from ..ports import TicketStore
from ._common import QueueConfig, follow_through

SWEEP_ROUND = 200
"""Tickets of each kind (lapsed leases, SLA breaches, unfinished follow-ups) a round takes."""


class Sweep:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        config: QueueConfig,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._tickets = tickets
        self._grace = timedelta(seconds=config.outbox_grace_s)
        self._now = clock

    async def __call__(self) -> None:
        await self.lapsed_claims()
        await self.sla_breaches()
        await self.follow_ups()

    async def lapsed_claims(self) -> None:
        """Claims whose lease ran out: their tickets go back to the queue."""
        now = self._now()
        for ticket in await self._tickets.lapsed(now, limit=SWEEP_ROUND):
            if ticket.claim_id is None:
                continue
            changed = await self._tickets.expire(
                ticket.ticket_id,
                claim_id=ticket.claim_id,
                now=now,
                follow_ups=lapse(ticket, ticket.claim_id),
            )
            if changed is not None:
                metrics.LEASES_EXPIRED.inc()
                await follow_through(self._tickets, changed)

    async def sla_breaches(self) -> None:
        """Tickets nobody answered in time: flagged, and announced, once."""
        now = self._now()
        for ticket in await self._tickets.sla_due(now, limit=SWEEP_ROUND):
            changed = await self._tickets.flag_sla_breach(
                ticket.ticket_id, now=now, follow_ups=[publishing(sla_breached_event(ticket))]
            )
            if changed is not None:
                metrics.SLA_BREACHES.labels(kind=ticket.kind).inc()
                await follow_through(self._tickets, changed)

    async def follow_ups(self) -> None:
        """What a crash (or Kafka being away) left undone, once it is the grace old."""
        await self._tickets.sweep_follow_ups(older_than=self._grace)
