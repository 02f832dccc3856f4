"""Claims and leases: claim a ticket (or renew one's claim), release it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from baton_contracts import utc_now

from .. import metrics
from ..domain import Agent, QueueError, check_releaser, claim_verdict, lease_until
from ..followups import ClaimOpened, assign, close_claim, lapse, open_claim
from ..ports import Changed, TicketStore
from ..tickets import ThreadTicket, Ticket
from ._common import ATTEMPTS, QueueConfig, follow_through, keeps_changing, visible


class Claims:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        config: QueueConfig,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._tickets = tickets
        self._lease_s = config.lease_s
        self._now = clock

    async def claim(self, agent: Agent, ticket_id: str) -> Ticket:
        """Claim a ticket, or renew one's own claim. Of concurrent claims exactly one wins:
        each writes on condition that the claim it saw is still the ticket's, and only one
        such write can find it so."""
        for _ in range(ATTEMPTS):
            ticket = await visible(self._tickets, agent, ticket_id)
            now = self._now()
            until = lease_until(now, self._lease_s)
            try:
                verdict = claim_verdict(agent, ticket, now)
            except QueueError:
                metrics.CLAIMS.labels(outcome="conflict").inc()
                raise
            if verdict == "renew":
                assert ticket.claim_id is not None
                renewed = await self._tickets.renew(
                    ticket_id, claim_id=ticket.claim_id, until=until, now=now
                )
                if renewed is not None:
                    metrics.CLAIMS.labels(outcome="renewed").inc()
                    return renewed
                continue
            changed = await self._take(agent, ticket, now=now, until=until)
            if changed is not None:
                metrics.CLAIMS.labels(outcome="claimed").inc()
                if ticket.first_claimed_at is None:
                    metrics.first_claim(ticket.kind, created_at=ticket.created_at, claimed_at=now)
                return await follow_through(self._tickets, changed)
        raise keeps_changing(ticket_id)

    async def _take(
        self, agent: Agent, ticket: Ticket, *, now: datetime, until: datetime
    ) -> Changed | None:
        claim_id = uuid.uuid4().hex
        follow_ups = []
        if ticket.claim_id is not None:  # a lapsed claim the sweep has not returned yet
            follow_ups += lapse(ticket, ticket.claim_id)
        follow_ups.append(
            open_claim(
                ClaimOpened(
                    claim_id=claim_id,
                    ticket_id=ticket.ticket_id,
                    thread_id=ticket.thread_id,
                    kind=ticket.kind,
                    department=ticket.department,
                    agent_id=agent.agent_id,
                    agent_name=agent.name,
                    ticket_created_at=ticket.created_at,
                    claimed_at=now,
                )
            )
        )
        if isinstance(ticket, ThreadTicket):
            follow_ups.append(
                assign(
                    ticket,
                    f"claim:{claim_id}",
                    owner="human",
                    agent_id=agent.agent_id,
                    reason=f"{agent.name} claimed ticket {ticket.ticket_id}",
                )
            )
        return await self._tickets.claim(
            ticket.ticket_id,
            seen_claim_id=ticket.claim_id,
            holder=agent.holding(ticket.department),
            claim_id=claim_id,
            until=until,
            now=now,
            follow_ups=follow_ups,
        )

    async def release(self, agent: Agent, ticket_id: str) -> Ticket:
        """Give the ticket back to the queue at once."""
        for _ in range(ATTEMPTS):
            ticket = await visible(self._tickets, agent, ticket_id)
            now = self._now()
            claim_id = check_releaser(agent, ticket, now)
            follow_ups = [close_claim(claim_id, now, "released")]
            if isinstance(ticket, ThreadTicket):
                follow_ups.append(
                    assign(
                        ticket,
                        f"release:{claim_id}",
                        owner="human",
                        agent_id=None,
                        reason=f"{agent.name} released ticket {ticket.ticket_id}",
                    )
                )
            changed = await self._tickets.release(
                ticket_id, claim_id=claim_id, now=now, follow_ups=follow_ups
            )
            if changed is not None:
                metrics.ACTIONS.labels(action="release").inc()
                return await follow_through(self._tickets, changed)
        raise keeps_changing(ticket_id)
