"""The team: what admins change on agents (departments, role, capacity, deactivation), the
agents' presence, and the sweep's care of both (silent agents away, slots a crash kept)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from baton_contracts import AgentStatusChanged, utc_now
from baton_runtime import publishing

from ..agents import check_agent
from ..domain import Agent
from ..ports import AgentChanges, AgentStore, TicketStore
from ..staffing import (
    AgentState,
    Presence,
    StatusReason,
    UnknownAgentError,
    check_capacity,
    idle,
    stale_slots,
)
from ._common import ATTEMPTS, QueueConfig, follow_through
from .claims import Freed, release_claim, tell

log = logging.getLogger(__name__)

TOUCH_EVERY_S = 5.0
"""A request notes the agent's activity at most this often: no write per request."""

Available = Callable[[AgentState], Awaitable[None]]


class Staff:
    def __init__(
        self,
        *,
        agents: AgentStore,
        tickets: TicketStore,
        config: QueueConfig,
        clock: Callable[[], datetime] = utc_now,
        freed: Freed | None = None,
        available: Available | None = None,
    ) -> None:
        self._agents = agents
        self._tickets = tickets
        self._config = config
        self._rules = config.staffing
        self._now = clock
        self._freed = freed
        self._available = available

    async def get(self, agent_id: str) -> AgentState:
        state = await self._agents.get(agent_id)
        if state is None:
            raise UnknownAgentError(f"agent {agent_id!r} does not exist")
        return state

    def capacity(self, state: AgentState) -> int:
        return state.capacity(self._rules.default_capacity)

    # ------------------------------------------------------------ administration

    async def change(self, agent_id: str, changes: AgentChanges) -> AgentState:
        """Apply an admin's changes. Deactivating takes effect at once (the token stops
        working with the write) and puts the agent's tickets back in the queue."""
        before = await self.get(agent_id)
        if changes.departments is not None:
            _, cleaned = check_agent(before.agent.name, changes.departments)
            changes = AgentChanges(**{**changes.__dict__, "departments": cleaned})
        check_capacity(changes.capacity)
        follow_ups = []
        if changes.active is False and before.active and before.status != "offline":
            follow_ups.append(publishing(_status_event(before, "offline", "deactivated")))
        after = await self._agents.change(agent_id, changes, now=self._now(), follow_ups=follow_ups)
        if after is None:
            raise UnknownAgentError(f"agent {agent_id!r} does not exist")
        await self._deliver(agent_id, follow_ups)
        if not after.active and after.slots:
            await self.return_work(after)
            return await self.get(agent_id)  # as the returned work left it
        return after

    async def return_work(self, state: AgentState) -> int:
        """Put every ticket a deactivated agent holds back in the queue."""
        returned = 0
        for slot in state.slots:
            ticket = await self._tickets.get(slot.ticket_id)
            if ticket is None or ticket.status != "assigned" or ticket.claim_id != slot.claim_id:
                await self._agents.free_slot(state.agent.agent_id, slot.claim_id)
                continue
            changed = await release_claim(
                self._tickets,
                ticket,
                slot.claim_id,
                now=self._now(),
                reason=f"{state.agent.name} was deactivated; returned",
            )
            if changed is not None:
                returned += 1
                await tell(self._freed, await follow_through(self._tickets, changed))
        return returned

    # ------------------------------------------------------------ presence

    async def set_status(
        self, agent: Agent, status: Presence, *, reason: StatusReason = "set"
    ) -> AgentState:
        """The agent's presence; going online hands it waiting tickets of auto-assigned
        departments."""
        for _ in range(ATTEMPTS):
            state = await self.get(agent.agent_id)
            if state.status == status and not state.idle_away:
                return state
            changed = await self._move(state, status, idle_away=False, reason=reason)
            if changed is not None:
                if status == "online" and self._available is not None:
                    try:
                        await self._available(changed)
                    except Exception:
                        log.warning("assignment to %s left for the sweep", agent.agent_id)
                return changed
        raise RuntimeError(f"the presence of {agent.agent_id} keeps changing")

    async def seen(self, state: AgentState) -> None:
        """A request by the agent: it is active. Away for silence, it is back online."""
        now = self._now()
        if state.status == "away" and state.idle_away:
            back = await self._move(state, "online", idle_away=False, reason="active")
            if back is not None and self._available is not None:
                await self._available(back)
            return
        # Noted well within the idle time, so an agent making requests never looks silent.
        every = timedelta(seconds=min(TOUCH_EVERY_S, self._rules.away_after_s / 4))
        if state.last_seen_at is None or state.last_seen_at <= now - every:
            await self._agents.touch(state.agent.agent_id, now=now, older_than=now - every)

    async def _move(
        self, state: AgentState, status: Presence, *, idle_away: bool, reason: StatusReason
    ) -> AgentState | None:
        follow_ups = (
            [publishing(_status_event(state, status, reason))] if status != state.status else []
        )
        changed = await self._agents.set_status(
            state.agent.agent_id,
            seen=state.status,
            status=status,
            idle_away=idle_away,
            now=self._now(),
            follow_ups=follow_ups,
        )
        if changed is not None and follow_ups:
            await self._deliver(state.agent.agent_id, follow_ups)
        return changed

    async def _deliver(self, agent_id: str, follow_ups: list) -> None:  # type: ignore[type-arg]
        try:
            await self._agents.deliver(agent_id, follow_ups)
        except Exception:
            log.warning("presence event of %s left for the sweep", agent_id, exc_info=True)

    # ------------------------------------------------------------ the sweep

    async def __call__(self) -> None:
        await self.idle_agents()
        await self.stale_slots()
        await self._agents.sweep_follow_ups(
            older_than=timedelta(seconds=self._config.outbox_grace_s)
        )

    async def idle_agents(self) -> int:
        """Online agents silent for the configured time are away."""
        now = self._now()
        moved = 0
        for state in await self._agents.states():
            if idle(state, now, self._rules.away_after_s):
                moved += await self._move(state, "away", idle_away=True, reason="idle") is not None
        return moved

    async def stale_slots(self) -> int:
        """Slots whose claim is not their ticket's: a claim that lost its race or a process
        that stopped between the slot and the ticket. Given back after the outbox grace;
        a deactivated agent's tickets go back to the queue."""
        now = self._now()
        freed = 0
        for state in await self._agents.states():
            if not state.slots:
                continue
            if not state.active:
                freed += await self.return_work(state)
                continue
            held: dict[str, str | None] = {}
            for slot in state.slots:
                ticket = await self._tickets.get(slot.ticket_id)
                mine = (
                    ticket is not None
                    and ticket.status == "assigned"
                    and ticket.holder is not None
                    and ticket.holder.agent_id == state.agent.agent_id
                )
                held[slot.ticket_id] = ticket.claim_id if ticket is not None and mine else None
            for slot in stale_slots(state, held, now, self._config.outbox_grace_s):
                await self._agents.free_slot(state.agent.agent_id, slot.claim_id)
                freed += 1
        return freed


def _status_event(state: AgentState, status: Presence, reason: StatusReason) -> AgentStatusChanged:
    agent = state.agent
    return AgentStatusChanged.first(
        thread_id=f"agent:{agent.agent_id}",
        agent_id=agent.agent_id,
        status=status,
        previous_status=state.status,
        reason=reason,
        departments=list(agent.departments),
    )
