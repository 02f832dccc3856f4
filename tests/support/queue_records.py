"""In-memory stand-ins for the human queue's other stores: the claims log, feedback, ratings,
agents, and the ownership log."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from baton_contracts import ThreadAssigned
from baton_conversations import Ownership
from baton_human_queue.domain import Agent
from baton_human_queue.followups import ClaimClosed, ClaimOpened, Feedback
from baton_human_queue.labour import ClaimSpan
from baton_human_queue.ports import AgentChanges, AgentRecord
from baton_human_queue.satisfaction import Rating
from baton_human_queue.staffing import AgentState, Policy, Presence, Slot
from baton_runtime import Entry, Outbox


class MemoryClaims:
    """The claims log; while ``down`` (MongoDB unreachable), writing it fails."""

    def __init__(self) -> None:
        self.claims: dict[str, ClaimSpan] = {}
        self.down = False

    async def opened(self, claim: ClaimOpened) -> None:
        if self.down:
            raise ConnectionError("MongoDB is unreachable")
        self.claims.setdefault(
            claim.claim_id,
            ClaimSpan(
                claim_id=claim.claim_id,
                ticket_id=claim.ticket_id,
                agent_id=claim.agent_id,
                agent_name=claim.agent_name,
                claimed_at=claim.claimed_at,
                ended_at=None,
                outcome=None,
            ),
        )

    async def closed(self, claim: ClaimClosed) -> None:
        span = self.claims.get(claim.claim_id)
        if span is not None and span.ended_at is None:
            self.claims[claim.claim_id] = ClaimSpan(
                **{**span.__dict__, "ended_at": claim.ended_at, "outcome": claim.outcome}
            )

    async def for_tickets(self, ticket_ids: Sequence[str]) -> list[ClaimSpan]:
        found = [c for c in self.claims.values() if c.ticket_id in ticket_ids]
        return sorted(found, key=lambda c: c.claimed_at)


class MemoryFeedback:
    def __init__(self) -> None:
        self.feedback: dict[str, Feedback] = {}

    async def add(self, feedback: Feedback) -> None:
        self.feedback.setdefault(feedback.feedback_id, feedback)

    async def since(self, since: datetime | None) -> list[Feedback]:
        found = [f for f in self.feedback.values() if since is None or f.at >= since]
        return sorted(found, key=lambda f: f.at)


class MemoryRatings:
    """The users' ratings, each kept once by its id."""

    def __init__(self) -> None:
        self.ratings: dict[str, Rating] = {}

    async def add(self, rating: Rating) -> bool:
        if rating.rating_id in self.ratings:
            return False
        self.ratings[rating.rating_id] = rating
        return True

    async def between(self, since: datetime, until: datetime) -> list[Rating]:
        found = [r for r in self.ratings.values() if since <= r.rated_at < until]
        return sorted(found, key=lambda r: r.rated_at)

    async def for_tickets(self, ticket_ids: Sequence[str]) -> list[Rating]:
        return [r for r in self.ratings.values() if r.ticket_id in ticket_ids]


class MemoryAgents:
    """Agents with their presence and slots. Each change applies only if the agent is as
    the caller saw it, as the conditional writes on MongoDB do; presence events wait in a
    per-agent outbox until delivered (with an ``outbox``, a real one carries them out)."""

    def __init__(self, outbox: Outbox | None = None) -> None:
        self.by_id: dict[str, AgentState] = {}
        self.hashes: dict[str, str] = {}
        self.waiting: dict[str, list[Entry]] = {}
        self._outbox = outbox

    async def add(self, agent: Agent, *, token_hash: str, now: datetime) -> None:
        self.by_id[agent.agent_id] = AgentState(
            agent=agent,
            active=True,
            status="offline",
            idle_away=False,
            last_seen_at=None,
            status_at=now,
            created_at=now,
        )
        self.hashes[agent.agent_id] = token_hash

    async def by_token_hash(self, token_hash: str) -> tuple[AgentState, str] | None:
        for agent_id, stored in self.hashes.items():
            state = self.by_id[agent_id]
            if stored == token_hash and state.active:
                return state, stored
        return None

    async def all(self) -> list[AgentRecord]:
        return [
            AgentRecord(
                s.agent,
                active=s.active,
                created_at=s.created_at or datetime.min.replace(tzinfo=UTC),
            )
            for s in self.by_id.values()
        ]

    async def get(self, agent_id: str) -> AgentState | None:
        await asyncio.sleep(0)
        return self.by_id.get(agent_id)

    async def states(self, *, department: str | None = None) -> list[AgentState]:
        await asyncio.sleep(0)
        return [
            s
            for s in self.by_id.values()
            if department is None or department in s.agent.departments
        ]

    def _set(self, agent_id: str, follow_ups: Sequence[Entry], **fields: object) -> AgentState:
        state = self.by_id[agent_id]
        if "agent" not in fields:
            fields["agent"] = state.agent
        self.by_id[agent_id] = dataclasses.replace(state, **fields)  # type: ignore[arg-type]
        if follow_ups:
            self.waiting.setdefault(agent_id, []).extend(follow_ups)
        return self.by_id[agent_id]

    async def change(
        self, agent_id: str, changes: AgentChanges, *, now: datetime, follow_ups: Sequence[Entry]
    ) -> AgentState | None:
        await asyncio.sleep(0)
        state = self.by_id.get(agent_id)
        if state is None:
            return None
        agent = state.agent
        agent = dataclasses.replace(
            agent,
            departments=changes.departments or agent.departments,
            role=changes.role or agent.role,
            capacity=changes.capacity
            if changes.capacity is not None or changes.default_capacity
            else agent.capacity,
        )
        fields: dict[str, object] = {"agent": agent}
        if changes.active is not None:
            fields["active"] = changes.active
        if changes.active is False:
            fields |= {"status": "offline", "idle_away": False, "status_at": now}
        return self._set(agent_id, follow_ups, **fields)

    async def set_token(self, agent_id: str, token_hash: str, *, now: datetime) -> bool:
        if agent_id not in self.by_id:
            return False
        self.hashes[agent_id] = token_hash
        return True

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
        await asyncio.sleep(0)
        state = self.by_id.get(agent_id)
        if state is None or not state.active or state.status != seen:
            return None
        fields: dict[str, object] = {"status": status, "idle_away": idle_away, "status_at": now}
        if status == "online":
            fields["last_seen_at"] = now
        return self._set(agent_id, follow_ups, **fields)

    async def touch(self, agent_id: str, *, now: datetime, older_than: datetime) -> None:
        state = self.by_id[agent_id]
        if state.last_seen_at is None or state.last_seen_at <= older_than:
            self._set(agent_id, (), last_seen_at=now)

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
        await asyncio.sleep(0)
        state = self.by_id.get(agent_id)
        if (
            state is None
            or not state.active
            or state.agent.capacity != seen_capacity
            or len(state.slots) >= limit
            or any(s.claim_id == slot.claim_id for s in state.slots)
            or (online and state.status != "online")
        ):
            return False
        fields: dict[str, object] = {"slots": (*state.slots, slot)}
        if assigned:
            fields["last_assigned_at"] = slot.at
        self._set(agent_id, (), **fields)
        return True

    async def free_slot(self, agent_id: str, claim_id: str) -> None:
        await asyncio.sleep(0)
        state = self.by_id[agent_id]
        self._set(agent_id, (), slots=tuple(s for s in state.slots if s.claim_id != claim_id))

    async def deliver(self, agent_id: str, follow_ups: Sequence[Entry]) -> None:
        if self._outbox is not None and follow_ups:
            await self._outbox.carry_out(follow_ups)
        left = self.waiting.get(agent_id, [])
        self.waiting[agent_id] = [e for e in left if e not in follow_ups]

    async def sweep_follow_ups(self, *, older_than: timedelta) -> int:
        finished = 0
        for agent_id, left in list(self.waiting.items()):
            if left:
                await self.deliver(agent_id, list(left))
                finished += 1
        return finished


class MemoryDepartments:
    def __init__(self) -> None:
        self.stored: dict[str, Policy] = {}

    async def policies(self) -> dict[str, Policy]:
        return dict(self.stored)

    async def set_policy(self, department: str, policy: Policy, *, now: datetime) -> None:
        self.stored[department] = policy


class MemoryOwnership:
    """The ownership log, fed with the ``thread.assigned`` events a test publishes."""

    def __init__(self) -> None:
        self.changes: dict[uuid.UUID, ThreadAssigned] = {}

    async def record(self, event: ThreadAssigned) -> None:
        self.changes.setdefault(event.event_id, event)

    async def of_thread(self, thread_id: str, *, limit: int = 200) -> list[Ownership]:
        found = sorted(
            (e for e in self.changes.values() if e.thread_id == thread_id),
            key=lambda e: e.occurred_at,
        )
        return [
            Ownership(
                at=e.occurred_at,
                owner=e.owner,
                previous_owner=e.previous_owner,
                agent_id=e.agent_id,
                reason=e.reason,
                event_id=str(e.event_id),
            )
            for e in found[:limit]
        ]
