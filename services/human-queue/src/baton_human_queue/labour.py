"""The labour report, free of I/O: how long tickets waited, how long people worked, and
how the users rated the conversations they resolved."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel

from .domain import milliseconds
from .satisfaction import Rating
from .tickets import TicketBase


@dataclass(frozen=True)
class ClaimSpan:
    claim_id: str
    ticket_id: str
    agent_id: str
    agent_name: str
    claimed_at: datetime
    ended_at: datetime | None
    outcome: str | None

    def handling_ms(self, now: datetime) -> int:
        """Time the agent held the ticket; a claim still open counts until ``now``."""
        return milliseconds(self.claimed_at, self.ended_at or now)


class ClaimLabour(BaseModel):
    agent_id: str
    agent_name: str
    claimed_at: datetime
    ended_at: datetime | None
    outcome: str | None
    handling_ms: int


class TicketLabour(BaseModel):
    ticket_id: str
    kind: str
    department: str | None
    status: str
    created_at: datetime
    first_claimed_at: datetime | None
    first_response_at: datetime | None
    resolved_at: datetime | None
    resolved_by: str | None
    time_to_claim_ms: int | None
    time_to_first_response_ms: int | None
    handling_ms: int
    claims: list[ClaimLabour]
    rating: int | None = None
    """The user's rating (1 to 5) of the conversation this ticket resolved, if given."""


class AgentLabour(BaseModel):
    agent_id: str
    agent_name: str
    claims: int
    tickets: int
    resolved: int
    handling_ms_total: int
    handling_ms_avg: int | None
    time_to_claim_ms_avg: int | None
    """Average wait of the tickets this agent was first to claim."""
    ratings: int = 0
    """Users' ratings of the conversations this agent resolved, among the report's tickets."""
    rating_avg: float | None = None


class LabourReport(BaseModel):
    since: datetime
    until: datetime
    tickets: list[TicketLabour]
    agents: list[AgentLabour]


def _avg(values: Sequence[int]) -> int | None:
    return round(sum(values) / len(values)) if values else None


def labour_report(
    tickets: Sequence[TicketBase],
    spans: Sequence[ClaimSpan],
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    ratings: Sequence[Rating] = (),
) -> LabourReport:
    by_ticket: dict[str, list[ClaimSpan]] = {}
    rated = {r.ticket_id: r for r in sorted(ratings, key=lambda r: r.rated_at) if r.ticket_id}
    agent_scores: dict[str, list[int]] = {}
    for span in sorted(spans, key=lambda s: s.claimed_at):
        by_ticket.setdefault(span.ticket_id, []).append(span)

    rows: list[TicketLabour] = []
    agent_claims: dict[str, list[ClaimSpan]] = {}
    agent_names: dict[str, str] = {}
    agent_waits: dict[str, list[int]] = {}
    agent_tickets: dict[str, set[str]] = {}
    agent_resolved: dict[str, int] = {}
    for ticket in tickets:
        claims = by_ticket.get(ticket.ticket_id, [])
        first_claimed = ticket.first_claimed_at or (claims[0].claimed_at if claims else None)
        wait = milliseconds(ticket.created_at, first_claimed) if first_claimed else None
        resolved_by = ticket.resolution.agent_id if ticket.resolution else None
        rating = rated.get(ticket.ticket_id)
        if rating is not None and rating.agent_id is not None:
            agent_scores.setdefault(rating.agent_id, []).append(rating.score)
        rows.append(
            TicketLabour(
                ticket_id=ticket.ticket_id,
                kind=ticket.kind,
                department=ticket.department,
                status=ticket.status,
                created_at=ticket.created_at,
                first_claimed_at=first_claimed,
                first_response_at=ticket.first_response_at,
                resolved_at=ticket.resolved_at,
                resolved_by=resolved_by,
                time_to_claim_ms=wait,
                time_to_first_response_ms=milliseconds(ticket.created_at, ticket.first_response_at)
                if ticket.first_response_at
                else None,
                handling_ms=sum(c.handling_ms(now) for c in claims),
                claims=[
                    ClaimLabour(
                        agent_id=c.agent_id,
                        agent_name=c.agent_name,
                        claimed_at=c.claimed_at,
                        ended_at=c.ended_at,
                        outcome=c.outcome,
                        handling_ms=c.handling_ms(now),
                    )
                    for c in claims
                ],
                rating=rating.score if rating else None,
            )
        )
        for position, claim in enumerate(claims):
            agent_claims.setdefault(claim.agent_id, []).append(claim)
            agent_names[claim.agent_id] = claim.agent_name
            agent_tickets.setdefault(claim.agent_id, set()).add(ticket.ticket_id)
            if position == 0 and wait is not None:
                agent_waits.setdefault(claim.agent_id, []).append(wait)
        if resolved_by is not None:
            agent_resolved[resolved_by] = agent_resolved.get(resolved_by, 0) + 1

    agents = []
    for agent_id, claims in agent_claims.items():
        handled = [c.handling_ms(now) for c in claims]
        scores = agent_scores.get(agent_id, [])
        agents.append(
            AgentLabour(
                agent_id=agent_id,
                agent_name=agent_names[agent_id],
                claims=len(claims),
                tickets=len(agent_tickets[agent_id]),
                resolved=agent_resolved.get(agent_id, 0),
                handling_ms_total=sum(handled),
                handling_ms_avg=_avg(handled),
                time_to_claim_ms_avg=_avg(agent_waits.get(agent_id, [])),
                ratings=len(scores),
                rating_avg=round(sum(scores) / len(scores), 2) if scores else None,
            )
        )
    agents.sort(key=lambda a: (-a.handling_ms_total, a.agent_name))
    return LabourReport(since=since, until=until, tickets=rows, agents=agents)
