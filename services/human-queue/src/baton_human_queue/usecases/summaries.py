"""The AI's summaries of tickets (``ticket.summarized``), kept with the ticket for the agent
who picks it up."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from baton_contracts import TicketSummarized, utc_now

from ..ports import TicketStore

log = logging.getLogger(__name__)


class Summaries:
    def __init__(self, *, tickets: TicketStore, clock: Callable[[], datetime] = utc_now) -> None:
        self._tickets = tickets
        self._now = clock

    async def keep(self, event: TicketSummarized) -> None:
        """Keep the summary on its ticket, whatever the ticket's state: the first one
        written stays, so a replay (or a second summary) changes nothing."""
        kept = await self._tickets.summarize(
            event.ticket_id, thread_id=event.thread_id, summary=event.summary, now=self._now()
        )
        if kept is None:
            # Summarised before, or a ticket this queue does not hold (of another thread):
            # a summary is a convenience, never worth a dead letter.
            log.info("summary of ticket %s not kept: it has one, or is unknown", event.ticket_id)
