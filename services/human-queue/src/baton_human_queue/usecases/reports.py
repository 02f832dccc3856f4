"""What admins read: the labour report and people's feedback on AI output."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from baton_contracts import utc_now

from ..followups import Feedback
from ..labour import LabourReport, labour_report
from ..ports import ClaimStore, FeedbackStore, TicketStore


class Reports:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        claims: ClaimStore,
        feedback: FeedbackStore,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._tickets = tickets
        self._claims = claims
        self._feedback = feedback
        self._now = clock

    async def labour(self, since: datetime, until: datetime) -> LabourReport:
        """Per ticket created in [since, until): waits and handling times; per agent."""
        tickets = await self._tickets.created_between(since, until)
        spans = await self._claims.for_tickets([t.ticket_id for t in tickets])
        return labour_report(tickets, spans, since=since, until=until, now=self._now())

    async def feedback(self, since: datetime | None = None) -> list[Feedback]:
        """Every approval (with its edit), rejection review and answer, oldest first."""
        return await self._feedback.since(since)
