"""Assignment: departments whose policy is ``round_robin`` or ``least_busy`` get their
tickets handed to an online agent with room, in queue order; tickets of an agent who is
away or offline and has not touched them move on (failover).

Every hand-out is a claim on the agent's behalf (a slot, then the ticket, see
:func:`~baton_human_queue.usecases.claims.take_ticket`), so concurrent hand-outs, claims and
failovers never give one ticket to two agents nor an agent more than its capacity.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from baton_contracts import utc_now

from ..agents import DEPARTMENT_PATTERN, InvalidAgentError
from ..domain import AtCapacityError, lease_until
from ..followups import end_claim
from ..ports import AgentStore, Changed, DepartmentStore, TicketQuery, TicketStore
from ..staffing import (
    AUTO_POLICIES,
    AgentState,
    Policy,
    Slot,
    candidates,
    failover_due,
)
from ..tickets import Ticket
from ._common import QueueConfig, follow_through
from .claims import give_back, release_claim, take_ticket, taking

log = logging.getLogger(__name__)

ROUND = 100
"""Tickets of a department one round of assignment (or failover) looks at."""

Placed = Literal["assigned", "gone", "no_room"]


class Assigner:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        agents: AgentStore,
        departments: DepartmentStore,
        config: QueueConfig,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._tickets = tickets
        self._agents = agents
        self._departments = departments
        self._config = config
        self._rules = config.staffing
        self._now = clock

    # ------------------------------------------------------------ policies

    async def policies(self) -> dict[str, Policy]:
        """Every department with a policy: configured, overridden by those set through the API."""
        return {**self._rules.policies, **await self._departments.policies()}

    async def policy(self, department: str | None) -> Policy:
        if department is None:
            return "manual"  # a ticket without a department is everyone's to pull
        return (await self.policies()).get(department, "manual")

    async def set_policy(self, department: str, policy: Policy) -> Policy:
        if not DEPARTMENT_PATTERN.match(department):
            raise InvalidAgentError(
                f"department {department!r} must be 1-100 letters, digits, spaces, '.', '_' or '-'"
            )
        await self._departments.set_policy(department, policy, now=self._now())
        if policy in AUTO_POLICIES:
            await self.fill(department)
        return policy

    # ------------------------------------------------------------ triggers

    async def opened(self, ticket: Ticket) -> None:
        """A new ticket: straight to an agent, if its department is auto-assigned."""
        await self.fill(ticket.department)

    async def freed(self, ticket: Ticket) -> None:
        """A claim ended: its agent (or another) may take the next waiting ticket."""
        await self.fill(ticket.department)

    async def available(self, state: AgentState) -> None:
        """An agent came online: its departments' waiting tickets."""
        for department in state.agent.departments:
            await self.fill(department)

    async def __call__(self) -> None:
        """The sweep's round: failover, then whatever still waits, in every auto department."""
        for department, policy in (await self.policies()).items():
            if policy in AUTO_POLICIES:
                await self.failover(department, policy)
                await self.fill(department)

    # ------------------------------------------------------------ handing out

    async def fill(self, department: str | None) -> int:
        """Hand the department's waiting tickets out in queue order until nobody has room."""
        policy = await self.policy(department)
        if policy not in AUTO_POLICIES:
            return 0
        assert department is not None
        waiting = await self._tickets.search(
            TicketQuery(statuses=("pending",), departments=None, department=department, limit=ROUND)
        )
        assigned = 0
        for ticket in waiting:
            placed = await self._place(ticket, policy)
            if placed == "no_room":
                break  # the rest wait for someone to free up or come online
            assigned += placed == "assigned"
        return assigned

    async def _place(self, ticket: Ticket, policy: Policy) -> Placed:
        assert ticket.department is not None
        states = await self._agents.states(department=ticket.department)
        for state in candidates(
            states, ticket.department, policy, default_capacity=self._rules.default_capacity
        ):
            now = self._now()
            try:
                changed = await take_ticket(
                    self._tickets,
                    self._agents,
                    self._config,
                    state,
                    ticket,
                    now=now,
                    reason=f"ticket {ticket.ticket_id} assigned to {state.agent.name} ({policy})",
                    auto=True,
                )
            except AtCapacityError:
                continue  # filled (or went offline) since it was read: the next one
            if changed is None:
                return "gone"  # claimed or assigned meanwhile
            await follow_through(self._tickets, changed)
            return "assigned"
        return "no_room"

    # ------------------------------------------------------------ failover

    async def failover(self, department: str, policy: Policy) -> int:
        """Tickets held by an agent who is not online and has not touched them for the
        configured time go to the next agent, or back to the queue if nobody has room."""
        held = await self._tickets.search(
            TicketQuery(
                statuses=("assigned",), departments=None, department=department, limit=ROUND
            )
        )
        if not held:
            return 0
        states = {s.agent.agent_id: s for s in await self._agents.states()}
        moved = 0
        for ticket in held:
            assert ticket.holder is not None
            holder = states.get(ticket.holder.agent_id)
            if not failover_due(
                ticket,
                holder,
                self._now(),
                lease_s=self._config.lease_s,
                after_s=self._rules.failover_after_s,
            ):
                continue
            moved += await self._move_on(ticket, policy, list(states.values()))
        return moved

    async def _move_on(self, ticket: Ticket, policy: Policy, states: list[AgentState]) -> int:
        assert ticket.holder is not None
        assert ticket.claim_id is not None
        assert ticket.department is not None
        gone = ticket.holder.agent_id
        for state in candidates(
            [s for s in states if s.agent.agent_id != gone],
            ticket.department,
            policy,
            default_capacity=self._rules.default_capacity,
        ):
            try:
                changed = await hand_over(
                    self._tickets,
                    self._agents,
                    self._config,
                    state,
                    ticket,
                    now=self._now(),
                    reason=f"ticket {ticket.ticket_id} moved from {ticket.holder.name}, who is "
                    f"away, to {state.agent.name}",
                    auto=True,
                )
            except AtCapacityError:
                continue
            if changed is not None:
                await follow_through(self._tickets, changed)
                return 1
            return 0
        # Nobody has room: back to the queue, where the next agent with room gets it.
        changed = await release_claim(
            self._tickets,
            ticket,
            ticket.claim_id,
            now=self._now(),
            reason=f"{ticket.holder.name} is away; nobody has room for",
        )
        if changed is not None:
            await follow_through(self._tickets, changed)
            return 1
        return 0


async def hand_over(
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
    """An assigned ticket given to ``state``'s agent over its holder's claim: a slot for the
    new holder, then the ticket under the claim seen; the old claim is closed and its slot
    given back with the change. None when the ticket changed meanwhile."""
    assert ticket.holder is not None
    assert ticket.claim_id is not None
    agent = state.agent
    limit = state.capacity(config.staffing.default_capacity)
    claim_id = uuid.uuid4().hex
    if not await agents.take_slot(
        agent.agent_id,
        Slot(claim_id=claim_id, ticket_id=ticket.ticket_id, at=now),
        seen_capacity=agent.capacity,
        limit=limit,
        online=auto,
        assigned=auto,
    ):
        raise AtCapacityError(f"{agent.name} holds {limit} ticket(s), the most they may hold")
    follow_ups = [
        *end_claim(ticket, ticket.claim_id, now, "reassigned"),
        *taking(
            ticket,
            agent,
            claim_id,
            now,
            reason=reason,
            change=f"reassign:{claim_id}",
            config=config,
        ),
    ]
    changed = await tickets.reassign(
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
    return changed
