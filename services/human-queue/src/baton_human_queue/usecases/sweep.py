"""The queue's sweep: lapsed claims back to the queue, unanswered questions closed, SLA
breaches flagged, and the follow-ups a crash left on tickets carried out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import get_args

from baton_contracts import SlaKind, utc_now
from baton_runtime import publishing

from .. import metrics
from ..domain import expiry_reason
from ..events import sla_breached_event
from ..followups import expiry, lapse
from ..ports import TicketStore
from ._common import QueueConfig, follow_through

SLA_KINDS: tuple[SlaKind, ...] = get_args(SlaKind)
SWEEP_ROUND = 200
"""Tickets of each kind (lapsed leases, expiries, SLA breaches, unfinished follow-ups) a
round takes."""


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
        self._sla_raise = config.sla_raise

    async def __call__(self) -> None:
        await self.lapsed_claims()
        await self.expirations()
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

    async def expirations(self) -> None:
        """Questions nobody answered in time: closed, and the AI told to go on without the
        answer or to hand the conversation to people (``ticket.expired``). An answer that
        lands first wins; one that lands after is refused (``409 wrong_state``)."""
        now = self._now()
        for ticket in await self._tickets.expiring(now, limit=SWEEP_ROUND):
            reason = expiry_reason(ticket)
            changed = await self._tickets.close_expired(
                ticket.ticket_id, now=now, reason=reason, follow_ups=expiry(ticket, now, reason)
            )
            if changed is not None:
                metrics.TICKETS_EXPIRED.labels(
                    kind=ticket.kind, fallback=ticket.fallback or "ai"
                ).inc()
                await follow_through(self._tickets, changed)

    async def sla_breaches(self) -> None:
        """Tickets whose SLA clock ran out: the first response, the next response to a
        user who wrote again, the resolution. Each is flagged and announced once (a next
        response once per wait), raising the ticket's priority by its configured step."""
        for sla in SLA_KINDS:
            now = self._now()
            raise_by = self._sla_raise.get(sla, 0)
            for ticket in await self._tickets.sla_due(now, limit=SWEEP_ROUND, sla=sla):
                event = sla_breached_event(ticket, sla=sla, raised_by=raise_by)
                changed = await self._tickets.flag_sla_breach(
                    ticket.ticket_id,
                    now=now,
                    follow_ups=[publishing(event)],
                    sla=sla,
                    seen=ticket,
                    raise_by=raise_by,
                )
                if changed is not None:
                    metrics.SLA_BREACHES.labels(kind=ticket.kind, sla=sla).inc()
                    await follow_through(self._tickets, changed)

    async def follow_ups(self) -> None:
        """What a crash (or Kafka being away) left undone, once it is the grace old."""
        await self._tickets.sweep_follow_ups(older_than=self._grace)
