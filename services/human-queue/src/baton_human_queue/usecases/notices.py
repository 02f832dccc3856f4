"""The notices a ticket change sends the user (decision 20): decided by the rules of
:mod:`baton_human_queue.notices` and written into the ticket's outbox with the change, so a
replay sends none twice. For a hand-off, where the user stands: the place in the queue, and
the wait the department's recent claims suggest, or when people are back."""

from __future__ import annotations

from datetime import datetime, timedelta

from baton_contracts import NoticeKind
from baton_runtime import Entry

from ..followups import notify
from ..notices import Facts, expected_wait
from ..ports import TicketStore
from ..tickets import Ticket
from ._common import QueueConfig

WAIT_SAMPLES = 20
"""The latest first claims of a department the expected wait is estimated from."""
WAIT_WINDOW = timedelta(hours=24)
"""Only claims this recent count: yesterday's queue says little about today's."""
WAIT_CACHE_S = 30.0
"""How long a department's estimate is reused: under a burst of hand-offs, one read."""
MAX_POSITION = 1000
"""Waiting tickets counted ahead of a new one, at most (the count stays cheap)."""


def notices_for(
    config: QueueConfig,
    ticket: Ticket,
    kind: NoticeKind,
    purpose: str,
    facts: Facts,
    now: datetime,
) -> list[Entry]:
    """The follow-up sending ``kind`` about ``ticket`` for ``purpose``, in the user's
    locale and the ticket's department's words; none when that notice is off there."""
    rules = config.notices
    notice = rules.notice(kind, department=ticket.department, locale=ticket.locale, facts=facts)
    return notify(ticket, purpose, notice, sender=rules.sender, now=now)


class Standing:
    """Where a new ticket stands in its department's queue."""

    def __init__(self, *, tickets: TicketStore, config: QueueConfig) -> None:
        self._tickets = tickets
        self._config = config
        self._waits: dict[str | None, tuple[datetime, timedelta | None]] = {}

    async def facts(self, ticket: Ticket, now: datetime) -> Facts:
        """The hand-off notice's facts: the ticket's place among its department's waiting
        tickets (1: next) and, while people are at work, the expected wait; while they are
        away, when they are back instead."""
        position = 1 + await self._tickets.ahead_of(ticket, limit=MAX_POSITION - 1)
        hours = self._config.hours.of(ticket.department)
        if hours is not None and not hours.is_open(now):
            return Facts(position=position, back_at=hours.local(hours.next_open(now)), now=now)
        return Facts(position=position, wait=await self._wait(ticket.department, now), now=now)

    async def _wait(self, department: str | None, now: datetime) -> timedelta | None:
        cached = self._waits.get(department)
        if cached is not None and timedelta(0) <= now - cached[0] < timedelta(seconds=WAIT_CACHE_S):
            return cached[1]
        claimed = await self._tickets.claim_waits(
            department, since=now - WAIT_WINDOW, limit=WAIT_SAMPLES
        )
        # Waits in business time: a ticket that waited over a night waited minutes, not hours.
        hours = self._config.hours
        estimate = expected_wait([hours.between(department, c, f) for c, f in claimed])
        if len(self._waits) > 1000:
            self._waits.clear()
        self._waits[department] = (now, estimate)
        return estimate
