"""In-memory stand-ins for the human queue's other stores: the claims log, feedback, agents,
and the ownership log."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from baton_contracts import ThreadAssigned
from baton_conversations import Ownership
from baton_human_queue.domain import Agent
from baton_human_queue.followups import ClaimClosed, ClaimOpened, Feedback
from baton_human_queue.labour import ClaimSpan
from baton_human_queue.ports import AgentRecord


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


class MemoryAgents:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[Agent, str, datetime]] = {}

    async def add(self, agent: Agent, *, token_hash: str, now: datetime) -> None:
        self.rows[token_hash] = (agent, token_hash, now)

    async def by_token_hash(self, token_hash: str) -> tuple[Agent, str] | None:
        row = self.rows.get(token_hash)
        return (row[0], row[1]) if row else None

    async def all(self) -> list[AgentRecord]:
        return [
            AgentRecord(agent, active=True, created_at=at)
            for agent, _, at in sorted(self.rows.values(), key=lambda r: r[2])
        ]


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
