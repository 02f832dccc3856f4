"""What the queue's use cases need of their stores: small interfaces, implemented on MongoDB
in :mod:`baton_human_queue.store` and in memory for unit tests.

A ticket changes through one conditional write whose condition is what the caller saw
(status, claim, lease): ``None`` means the ticket changed meanwhile, and the caller reads it
again and decides again. The write stores the change's follow-ups with it; ``deliver``
carries them out afterwards (see :mod:`baton_human_queue.followups`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from baton_contracts import SlaKind, TicketKind, TicketStatus, TicketSummary
from baton_conversations import Ownership
from baton_runtime import Entry

from .audit import ActionRecord
from .domain import Agent, Role
from .followups import ClaimClosed, ClaimOpened, Feedback
from .labour import ClaimSpan
from .satisfaction import Rating
from .staffing import AgentState, Policy, Presence, Slot
from .tickets import AiNotes, Holder, Resolution, Ticket


@dataclass(frozen=True)
class Changed:
    """A ticket as a change left it, and the follow-ups waiting on it, in order: the
    change's own, after any an earlier change left undone."""

    ticket: Ticket
    follow_ups: list[Entry]


@dataclass(frozen=True)
class TicketQuery:
    statuses: Sequence[TicketStatus]
    departments: Sequence[str] | None
    """Only these departments' tickets and those without one; None: every ticket."""
    department: str | None = None
    kind: TicketKind | None = None
    thread_id: str | None = None
    limit: int = 100


class TicketStore(Protocol):
    async def add(self, ticket: Ticket, *, follow_ups: Sequence[Entry] = ()) -> bool:
        """Store a new ticket with its ``follow_ups``; False when it exists (a replay) or,
        for a conversation or escalation, when its thread has one open already."""
        ...

    async def get(self, ticket_id: str) -> Ticket | None: ...

    async def open_for_thread(self, thread_id: str) -> Ticket | None:
        """The thread's open conversation or escalation ticket."""
        ...

    async def search(self, query: TicketQuery) -> list[Ticket]:
        """Tickets in queue order: highest priority first, then oldest."""
        ...

    async def attach(
        self,
        ticket_id: str,
        message_id: uuid.UUID,
        *,
        notes: AiNotes,
        now: datetime,
        next_response_due: datetime | None = None,
    ) -> Ticket | None:
        """Add a user message (once) and the AI's notes to a ticket still open. With
        ``next_response_due``, the user now waits for people's next response: due then,
        unless an earlier message of the same wait set it earlier."""
        ...

    async def claim(
        self,
        ticket_id: str,
        *,
        seen_claim_id: str | None,
        holder: Holder,
        claim_id: str,
        until: datetime,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        """Take a ticket that is pending, or whose lease ran out, under ``seen_claim_id``."""
        ...

    async def renew(
        self, ticket_id: str, *, claim_id: str, until: datetime, now: datetime
    ) -> Ticket | None:
        """Move a live claim's lease to ``until``."""
        ...

    async def reassign(
        self,
        ticket_id: str,
        *,
        seen_claim_id: str,
        holder: Holder,
        claim_id: str,
        until: datetime,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        """Give an assigned ticket still under ``seen_claim_id`` to another holder, lease or
        not (a supervisor's assignment, a failover)."""
        ...

    async def transfer(
        self,
        ticket_id: str,
        *,
        seen_claim_id: str | None,
        department: str | None,
        priority: int,
        holder: Holder | None,
        claim_id: str | None,
        until: datetime | None,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        """Move an open ticket still under ``seen_claim_id`` (None: unclaimed) to
        ``department`` with its new ``priority``: held by ``holder`` under ``claim_id``
        until ``until``, or (no holder) back in that department's queue."""
        ...

    async def release(
        self, ticket_id: str, *, claim_id: str, now: datetime, follow_ups: Sequence[Entry]
    ) -> Changed | None:
        """Put an assigned ticket under ``claim_id`` back in the queue, lease or not."""
        ...

    async def reply(
        self,
        ticket_id: str,
        *,
        claim_id: str,
        reply_id: uuid.UUID,
        until: datetime,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        """Record the holder's reply ``reply_id`` (not recorded yet) while the claim lives;
        the first response stops the SLA clock, the lease moves to ``until``."""
        ...

    async def resolve(
        self,
        ticket_id: str,
        *,
        claim_id: str,
        resolution: Resolution,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        """Close a ticket whose claim ``claim_id`` lives; its thread may get a new one."""
        ...

    async def expire(
        self, ticket_id: str, *, claim_id: str, now: datetime, follow_ups: Sequence[Entry]
    ) -> Changed | None:
        """Put a ticket whose lease under ``claim_id`` ran out back in the queue."""
        ...

    async def flag_sla_breach(
        self,
        ticket_id: str,
        *,
        now: datetime,
        follow_ups: Sequence[Entry],
        sla: SlaKind = "first_response",
        seen: Ticket | None = None,
        raise_by: int = 0,
    ) -> Changed | None:
        """Flag an open ticket's clock ``sla`` as run out, once (a next response: once per
        wait, the one ``seen`` had), raising its priority by ``raise_by`` from what ``seen``
        had. None when the clock was met or flagged meanwhile."""
        ...

    async def close_expired(
        self, ticket_id: str, *, now: datetime, reason: str, follow_ups: Sequence[Entry]
    ) -> Changed | None:
        """Close an open ticket whose ``expires_at`` passed, unanswered; None when it was
        answered (or closed) first."""
        ...

    async def summarize(
        self, ticket_id: str, *, thread_id: str, summary: TicketSummary, now: datetime
    ) -> Ticket | None:
        """Keep the AI's summary on a ticket of ``thread_id`` that has none yet."""
        ...

    async def deliver(self, ticket_id: str, follow_ups: Sequence[Entry]) -> None:
        """Carry out ``follow_ups`` in order and take them off the ticket; an error leaves
        them for the sweep and is raised."""
        ...

    async def sweep_follow_ups(self, *, older_than: timedelta) -> int:
        """Carry out what a crash left on tickets; returns how many tickets were finished."""
        ...

    async def lapsed(self, now: datetime, *, limit: int) -> list[Ticket]:
        """Assigned tickets whose lease ran out by ``now``."""
        ...

    async def sla_due(
        self, now: datetime, *, limit: int, sla: SlaKind = "first_response"
    ) -> list[Ticket]:
        """Open tickets whose clock ``sla`` ran out by ``now``, not flagged yet (the first
        response: without a response)."""
        ...

    async def ahead_of(self, ticket: Ticket, *, limit: int) -> int:
        """How many waiting tickets of ``ticket``'s department come before it in queue
        order, counted up to ``limit``."""
        ...

    async def claim_waits(
        self, department: str | None, *, since: datetime, limit: int
    ) -> list[tuple[datetime, datetime]]:
        """Creation and first claim of the department's latest ``limit`` tickets first
        claimed since ``since``."""
        ...

    async def expiring(self, now: datetime, *, limit: int) -> list[Ticket]:
        """Open tickets whose ``expires_at`` passed by ``now``."""
        ...

    async def created_between(self, since: datetime, until: datetime) -> list[Ticket]: ...


class ClaimStore(Protocol):
    """One record per claim, for the labour report."""

    async def opened(self, claim: ClaimOpened) -> None: ...

    async def closed(self, claim: ClaimClosed) -> None: ...

    async def for_tickets(self, ticket_ids: Sequence[str]) -> list[ClaimSpan]: ...


class RatingStore(Protocol):
    """The users' ratings (``thread.rated``), for the reports."""

    async def add(self, rating: Rating) -> bool:
        """Keep a rating once, by its id; True when it is new."""
        ...

    async def between(self, since: datetime, until: datetime) -> list[Rating]:
        """The ratings given in [since, until), oldest first."""
        ...

    async def for_tickets(self, ticket_ids: Sequence[str]) -> list[Rating]: ...


class FeedbackStore(Protocol):
    """People's corrections of AI output: approvals (edited or not), rejections, answers."""

    async def add(self, feedback: Feedback) -> None: ...

    async def since(self, since: datetime | None) -> list[Feedback]:
        """Oldest first."""
        ...


class ActionAuditStore(Protocol):
    """The action audit: what happened to each tool call, one record each (see
    :mod:`baton_human_queue.audit`)."""

    async def add(self, record: ActionRecord) -> bool:
        """Keep a record once, by its id; True when it is new."""
        ...

    async def of_ticket(self, ticket_id: str) -> list[ActionRecord]:
        """An action ticket's records, oldest first."""
        ...

    async def between(self, since: datetime | None, until: datetime | None) -> list[ActionRecord]:
        """The records of [since, until) (None: unbounded), oldest first."""
        ...


@dataclass(frozen=True)
class AgentRecord:
    agent: Agent
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class AgentChanges:
    """What an admin changes on an agent; None leaves a field as it is."""

    departments: tuple[str, ...] | None = None
    role: Role | None = None
    capacity: int | None = None
    default_capacity: bool = False
    """Drop the agent's own capacity: the configured default applies."""
    active: bool | None = None


class AgentStore(Protocol):
    async def add(self, agent: Agent, *, token_hash: str, now: datetime) -> None: ...

    async def by_token_hash(self, token_hash: str) -> tuple[AgentState, str] | None:
        """An active agent by its token's hash, with the stored hash."""
        ...

    async def all(self) -> list[AgentRecord]: ...

    async def get(self, agent_id: str) -> AgentState | None: ...

    async def states(self, *, department: str | None = None) -> list[AgentState]:
        """Every agent (serving ``department`` by name, if given), oldest first."""
        ...

    async def change(
        self, agent_id: str, changes: AgentChanges, *, now: datetime, follow_ups: Sequence[Entry]
    ) -> AgentState | None:
        """Apply an admin's changes; None for an unknown agent."""
        ...

    async def set_token(self, agent_id: str, token_hash: str, *, now: datetime) -> bool:
        """Replace the agent's token: the old one stops working with this write."""
        ...

    async def set_status(
        self,
        agent_id: str,
        *,
        seen: Presence,
        status: Presence,
        idle_away: bool,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> AgentState | None:
        """Move an active agent from ``seen`` to ``status``; None when it was not ``seen``."""
        ...

    async def touch(self, agent_id: str, *, now: datetime, older_than: datetime) -> None:
        """Note a request by the agent, if the last one noted is older than ``older_than``."""
        ...

    async def take_slot(
        self,
        agent_id: str,
        slot: Slot,
        *,
        seen_capacity: int | None,
        limit: int,
        online: bool = False,
        assigned: bool = False,
    ) -> bool:
        """Add ``slot`` to an active agent holding fewer than ``limit`` whose own capacity is
        still ``seen_capacity`` (and, with ``online``, who is online): one conditional write,
        so racing claims never take more slots than the limit. ``assigned`` notes the time
        for round-robin."""
        ...

    async def free_slot(self, agent_id: str, claim_id: str) -> None:
        """Give back the slot of ``claim_id``; nothing if it is gone already."""
        ...

    async def deliver(self, agent_id: str, follow_ups: Sequence[Entry]) -> None: ...

    async def sweep_follow_ups(self, *, older_than: timedelta) -> int: ...


class DepartmentStore(Protocol):
    """Assignment policies set through the API, by department."""

    async def policies(self) -> dict[str, Policy]: ...

    async def set_policy(self, department: str, policy: Policy, *, now: datetime) -> None: ...


class OwnershipHistory(Protocol):
    """Who owned a thread, and when (the conversation core's ``OwnershipLog``)."""

    async def of_thread(self, thread_id: str, *, limit: int = 200) -> list[Ownership]: ...
