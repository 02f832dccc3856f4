"""Claims and leases: claim a ticket (or renew one's claim), release it.

A claim takes a slot of the agent's capacity first (one conditional write on the agent),
then the ticket (one conditional write on the ticket); a claim that loses the ticket gives
the slot back at once, and the sweep frees any slot a crash kept (decision 18).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime

from baton_contracts import utc_now
from baton_runtime import Entry

from .. import metrics
from ..domain import (
    Agent,
    AtCapacityError,
    QueueError,
    check_releaser,
    claim_verdict,
    lease_until,
)
from ..followups import ClaimOpened, assign, end_claim, lapse, open_claim
from ..notices import Facts
from ..ports import AgentStore, Changed, TicketStore
from ..staffing import AgentState, InactiveAgentError, Slot, UnknownAgentError
from ..tickets import ThreadTicket, Ticket
from ._common import ATTEMPTS, QueueConfig, follow_through, keeps_changing, visible
from .notices import notices_for

log = logging.getLogger(__name__)

Freed = Callable[[Ticket], Awaitable[None]]
"""Told when a claim on a ticket ended, so waiting tickets can go to the agent with room."""


async def staffed(agents: AgentStore, agent_id: str) -> AgentState:
    state = await agents.get(agent_id)
    if state is None:
        raise UnknownAgentError(f"agent {agent_id!r} does not exist")
    if not state.active:
        raise InactiveAgentError(f"agent {state.agent.name} is deactivated")
    return state


async def take_ticket(
    tickets: TicketStore,
    agents: AgentStore,
    config: QueueConfig,
    state: AgentState,
    ticket: Ticket,
    *,
    now: datetime,
    reason: str,
    auto: bool = False,
) -> Changed | None:
    """``ticket`` claimed for ``state``'s agent: a slot of its capacity, then the ticket.
    None when the ticket changed meanwhile (the slot is given back); ``AtCapacityError``
    when the agent has no room. ``auto``: the queue assigns it, to an online agent only."""
    agent = state.agent
    limit = state.capacity(config.staffing.default_capacity)
    claim_id = uuid.uuid4().hex
    slot = Slot(claim_id=claim_id, ticket_id=ticket.ticket_id, at=now)
    if not await agents.take_slot(
        agent.agent_id,
        slot,
        seen_capacity=agent.capacity,
        limit=limit,
        online=auto,
        assigned=auto,
    ):
        raise AtCapacityError(
            f"{agent.name} holds {limit} ticket(s), the most they may hold at once; "
            "resolve or release one first"
        )
    follow_ups = []
    if ticket.claim_id is not None:  # a lapsed claim the sweep has not returned yet
        follow_ups += lapse(ticket, ticket.claim_id)
    follow_ups += taking(
        ticket, agent, claim_id, now, reason=reason, change=f"claim:{claim_id}", config=config
    )
    changed = await tickets.claim(
        ticket.ticket_id,
        seen_claim_id=ticket.claim_id,
        holder=agent.holding(ticket.department),
        claim_id=claim_id,
        until=lease_until(now, config.lease_s),
        now=now,
        follow_ups=follow_ups,
    )
    if changed is None:
        await give_back(agents, agent.agent_id, claim_id)
    elif ticket.first_claimed_at is None:
        metrics.first_claim(ticket.kind, created_at=ticket.created_at, claimed_at=now)
    return changed


def taking(
    ticket: Ticket,
    agent: Agent,
    claim_id: str,
    now: datetime,
    *,
    reason: str,
    change: str,
    config: QueueConfig,
) -> list[Entry]:
    """What ``agent`` taking ``ticket`` under ``claim_id`` leads to (by a claim, an
    assignment or a reassignment, named by ``change``): the claim opened in the labour log
    and, for a thread's ticket, the thread given to the agent and the user told who joined
    (not when the agent takes back its own lapsed claim; a renewal takes nothing)."""
    follow_ups = [
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
    ]
    if isinstance(ticket, ThreadTicket):
        follow_ups.append(
            assign(ticket, change, owner="human", agent_id=agent.agent_id, reason=reason)
        )
        if ticket.holder is None or ticket.holder.agent_id != agent.agent_id:
            joined = Facts(agent_name=agent.name)
            follow_ups += notices_for(
                config, ticket, "agent_joined", f"agent_joined:{claim_id}", joined, now
            )
    return follow_ups


async def give_back(agents: AgentStore, agent_id: str, claim_id: str) -> None:
    """The slot of a claim that did not happen; if this fails, the sweep frees it."""
    try:
        await agents.free_slot(agent_id, claim_id)
    except Exception:
        log.warning("slot of claim %s left for the sweep", claim_id, exc_info=True)


async def tell(freed: Freed | None, ticket: Ticket) -> None:
    """Tell the assigner a claim ended; its sweep catches up if this fails."""
    if freed is None:
        return
    try:
        await freed(ticket)
    except Exception:
        log.warning(
            "assignment after ticket %s left for the sweep", ticket.ticket_id, exc_info=True
        )


class Claims:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        agents: AgentStore,
        config: QueueConfig,
        clock: Callable[[], datetime] = utc_now,
        freed: Freed | None = None,
    ) -> None:
        self._tickets = tickets
        self._agents = agents
        self._config = config
        self._lease_s = config.lease_s
        self._now = clock
        self._freed = freed

    async def claim(self, agent: Agent, ticket_id: str) -> Ticket:
        """Claim a ticket, or renew one's own claim. Of concurrent claims exactly one wins:
        each writes on condition that the claim it saw is still the ticket's, and only one
        such write can find it so. A claim beyond the agent's capacity is refused."""
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
            state = await staffed(self._agents, agent.agent_id)
            try:
                changed = await take_ticket(
                    self._tickets,
                    self._agents,
                    self._config,
                    state,
                    ticket,
                    now=now,
                    reason=f"{agent.name} claimed ticket {ticket.ticket_id}",
                )
            except AtCapacityError:
                metrics.CLAIMS.labels(outcome="at_capacity").inc()
                raise
            if changed is not None:
                metrics.CLAIMS.labels(outcome="claimed").inc()
                return await follow_through(self._tickets, changed)
        raise keeps_changing(ticket_id)

    async def release(self, agent: Agent, ticket_id: str) -> Ticket:
        """Give the ticket back to the queue at once."""
        for _ in range(ATTEMPTS):
            ticket = await visible(self._tickets, agent, ticket_id)
            now = self._now()
            claim_id = check_releaser(agent, ticket, now)
            changed = await release_claim(
                self._tickets, ticket, claim_id, now=now, reason=f"{agent.name} released"
            )
            if changed is not None:
                metrics.ACTIONS.labels(action="release").inc()
                released = await follow_through(self._tickets, changed)
                await tell(self._freed, released)
                return released
        raise keeps_changing(ticket_id)


async def release_claim(
    tickets: TicketStore, ticket: Ticket, claim_id: str, *, now: datetime, reason: str
) -> Changed | None:
    """Put ``ticket`` under ``claim_id`` back in the queue: the claim closed, the slot given
    back and, for a conversation, the thread left with people but no agent."""
    follow_ups = end_claim(ticket, claim_id, now, "released")
    if isinstance(ticket, ThreadTicket):
        follow_ups.append(
            assign(
                ticket,
                f"release:{claim_id}",
                owner="human",
                agent_id=None,
                reason=f"{reason} ticket {ticket.ticket_id}",
            )
        )
    return await tickets.release(
        ticket.ticket_id, claim_id=claim_id, now=now, follow_ups=follow_ups
    )
