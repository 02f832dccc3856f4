"""Who is at work, how much each may hold, and who gets the next ticket: free of I/O.

An agent's presence is ``online``, ``away`` or ``offline``; an agent holds at most its
capacity of tickets at once, each under a *slot* on its document (one per claim, see
decision 18). A department's assignment policy decides whether people pull tickets
(``manual``) or the queue hands them out (``round_robin``, ``least_busy``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from .domain import Agent, QueueError
from .tickets import TicketBase

Presence = Literal["online", "away", "offline"]
PRESENCES: tuple[Presence, ...] = ("online", "away", "offline")
Policy = Literal["manual", "round_robin", "least_busy"]
POLICIES: tuple[Policy, ...] = ("manual", "round_robin", "least_busy")
AUTO_POLICIES: frozenset[Policy] = frozenset({"round_robin", "least_busy"})
StatusReason = Literal["set", "idle", "active", "deactivated"]
"""Why presence changed: the agent set it, silence made it away, a request after that
silence brought it back, or an admin deactivated the agent."""


class InvalidCapacityError(QueueError):
    code = "invalid_capacity"


class UnknownAgentError(QueueError):
    status = 404
    code = "unknown_agent"


class InactiveAgentError(QueueError):
    status = 409
    code = "inactive_agent"


@dataclass(frozen=True)
class Slot:
    """One claim's place in its agent's capacity."""

    claim_id: str
    ticket_id: str
    at: datetime


@dataclass(frozen=True)
class AgentState:
    """An agent as the queue staffs it: presence, capacity and what it holds."""

    agent: Agent
    active: bool
    status: Presence
    idle_away: bool
    """Away because it fell silent (not by its own choice): its next request brings it back."""
    last_seen_at: datetime | None
    status_at: datetime | None
    slots: tuple[Slot, ...] = ()
    last_assigned_at: datetime | None = None
    created_at: datetime | None = None

    def capacity(self, default: int) -> int:
        return self.agent.capacity if self.agent.capacity is not None else default

    @property
    def open_tickets(self) -> int:
        return len(self.slots)

    def has_room(self, default: int) -> bool:
        return self.open_tickets < self.capacity(default)


@dataclass(frozen=True)
class StaffingRules:
    default_capacity: int = 5
    away_after_s: float = 300.0
    """Silence (no API request) after which an online agent is away."""
    failover_after_s: float = 120.0
    """How long a ticket may sit untouched with an agent who is not online before it moves."""
    policies: dict[str, Policy] = field(default_factory=dict)
    """Configured policies by department; a department set through the API overrides it."""


def check_capacity(capacity: int | None) -> int | None:
    if capacity is not None and not 1 <= capacity <= 1000:
        raise InvalidCapacityError("capacity must be between 1 and 1000 tickets")
    return capacity


def idle(state: AgentState, now: datetime, away_after_s: float) -> bool:
    """An online agent silent for ``away_after_s`` (never seen: since it went online)."""
    seen = state.last_seen_at or state.status_at
    return (
        state.active
        and state.status == "online"
        and seen is not None
        and seen <= now - timedelta(seconds=away_after_s)
    )


def candidates(
    states: Sequence[AgentState], department: str, policy: Policy, *, default_capacity: int
) -> list[AgentState]:
    """The agents who may get a ticket of ``department`` now, best first: online, active,
    serving it by name (a supervisor's every-department view is for oversight, not for
    auto-assignment), with room. ``round_robin``: whoever was given one longest ago;
    ``least_busy``: whoever holds the fewest, then longest ago."""
    never = datetime.min.replace(tzinfo=UTC)

    def last(state: AgentState) -> datetime:
        return state.last_assigned_at or never

    fit = [
        s
        for s in states
        if s.active
        and s.status == "online"
        and department in s.agent.departments
        and s.has_room(default_capacity)
    ]
    if policy == "least_busy":
        return sorted(fit, key=lambda s: (s.open_tickets, last(s), s.agent.agent_id))
    return sorted(fit, key=lambda s: (last(s), s.agent.agent_id))


def last_touched(ticket: TicketBase, lease_s: float) -> datetime | None:
    """When the holder last acted on the ticket: its lease runs ``lease_s`` from then."""
    if ticket.lease_expires_at is None:
        return None
    return ticket.lease_expires_at - timedelta(seconds=lease_s)


def failover_due(
    ticket: TicketBase, holder: AgentState | None, now: datetime, *, lease_s: float, after_s: float
) -> bool:
    """An assigned ticket whose holder is not online (or gone) and has not touched it for
    ``after_s``: it moves to the next agent."""
    if ticket.status != "assigned" or ticket.holder is None:
        return False
    if holder is not None and holder.active and holder.status == "online":
        return False
    touched = last_touched(ticket, lease_s)
    return touched is not None and touched <= now - timedelta(seconds=after_s)


def stale_slots(
    state: AgentState, held: dict[str, str | None], now: datetime, grace_s: float
) -> list[Slot]:
    """Slots older than ``grace_s`` whose claim is no longer its ticket's: taken by a claim
    that lost its race or was cut short by a crash, and not given back. ``held`` maps each
    slot's ticket to its current claim id."""
    cutoff = now - timedelta(seconds=grace_s)
    return [s for s in state.slots if s.at <= cutoff and held.get(s.ticket_id) != s.claim_id]
