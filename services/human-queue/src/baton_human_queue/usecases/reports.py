"""What admins read: the labour report, the users' satisfaction and people's feedback on AI
output."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from baton_contracts import utc_now

from ..followups import Feedback
from ..labour import LabourReport, labour_report
from ..ports import ClaimStore, FeedbackStore, RatingStore, TicketStore
from ..satisfaction import SatisfactionReport, satisfaction_report


class Reports:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        claims: ClaimStore,
        feedback: FeedbackStore,
        ratings: RatingStore,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._tickets = tickets
        self._claims = claims
        self._feedback = feedback
        self._ratings = ratings
        self._now = clock

    async def labour(self, since: datetime, until: datetime) -> LabourReport:
        """Per ticket created in [since, until): waits, handling times and the user's
        rating of its resolution; per agent."""
        tickets = await self._tickets.created_between(since, until)
        ids = [t.ticket_id for t in tickets]
        spans = await self._claims.for_tickets(ids)
        ratings = await self._ratings.for_tickets(ids)
        return labour_report(
            tickets, spans, since=since, until=until, now=self._now(), ratings=ratings
        )

    async def satisfaction(self, since: datetime, until: datetime) -> SatisfactionReport:
        """The ratings given in [since, until): per agent, per department, AI and human."""
        ratings = await self._ratings.between(since, until)
        return satisfaction_report(ratings, since=since, until=until)

    async def feedback(self, since: datetime | None = None) -> list[Feedback]:
        """Every approval (with its edit), rejection review and answer, oldest first."""
        return await self._feedback.since(since)
