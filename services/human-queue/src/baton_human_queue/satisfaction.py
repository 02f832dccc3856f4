"""Customer satisfaction (CSAT), free of I/O: the users' ratings as the queue keeps them,
and the report of them per agent, per department, and AI against human."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from baton_contracts import Handler, ThreadRated

SCORES = (1, 2, 3, 4, 5)
SATISFIED = (4, 5)
"""The scores of a satisfied user: CSAT is their share of the ratings."""


class Rating(BaseModel):
    """A user's rating of a conversation, one per ``thread.rated`` (its id)."""

    model_config = ConfigDict(frozen=True)

    rating_id: str
    thread_id: str
    score: int
    comment: str | None = None
    resolved_by: Handler
    ticket_id: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    department: str | None = None
    via: Literal["api", "text"]
    rated_at: datetime

    @classmethod
    def of(cls, event: ThreadRated) -> Rating:
        agent = event.agent
        return cls(
            rating_id=str(event.event_id),
            thread_id=event.thread_id,
            score=event.score,
            comment=event.comment,
            resolved_by=event.resolved_by,
            ticket_id=event.ticket_id,
            agent_id=agent.agent_id if agent else None,
            agent_name=agent.name if agent else None,
            department=event.department,
            via=event.via,
            rated_at=event.occurred_at,
        )


class Tally(BaseModel):
    count: int = Field(description="Ratings.")
    average: float | None = Field(description="Their average score, 1 to 5; null without any.")
    csat: float | None = Field(
        description="CSAT: the share of ratings of 4 or 5, from 0 to 1; null without any."
    )
    distribution: dict[str, int] = Field(
        description="How many ratings gave each score, `1` to `5` (every score, 0 included)."
    )


class ResolverSatisfaction(BaseModel):
    ai: Tally = Field(description="Conversations no person resolved: the AI's.")
    human: Tally = Field(description="Conversations a person resolved last.")


class AgentSatisfaction(Tally):
    agent_id: str
    agent_name: str


class DepartmentSatisfaction(Tally):
    department: str | None = Field(description="Null: conversations without a department.")


class SatisfactionReport(BaseModel):
    since: datetime
    until: datetime
    overall: Tally
    resolved_by: ResolverSatisfaction
    agents: list[AgentSatisfaction] = Field(
        description="Per agent, the ratings of the conversations they resolved; most first."
    )
    departments: list[DepartmentSatisfaction] = Field(description="Per department; most first.")


def tally(scores: Iterable[int]) -> Tally:
    counted = dict.fromkeys(SCORES, 0)
    for score in scores:
        counted[score] += 1
    count = sum(counted.values())
    total = sum(score * n for score, n in counted.items())
    satisfied = sum(counted[s] for s in SATISFIED)
    return Tally(
        count=count,
        average=round(total / count, 2) if count else None,
        csat=round(satisfied / count, 4) if count else None,
        distribution={str(score): n for score, n in counted.items()},
    )


def _grouped(
    ratings: Iterable[Rating], key: Callable[[Rating], str | None]
) -> dict[str | None, list[Rating]]:
    groups: dict[str | None, list[Rating]] = {}
    for rating in ratings:
        groups.setdefault(key(rating), []).append(rating)
    return groups


def satisfaction_report(
    ratings: Sequence[Rating], *, since: datetime, until: datetime
) -> SatisfactionReport:
    """The ratings given in [since, until), counted every way the report shows them."""
    given = sorted((r for r in ratings if since <= r.rated_at < until), key=lambda r: r.rated_at)
    agents = [
        AgentSatisfaction(
            agent_id=agent_id,
            # The name the agent had at their latest rated resolution.
            agent_name=rated[-1].agent_name or agent_id,
            **tally(r.score for r in rated).model_dump(),
        )
        for agent_id, rated in _grouped(given, lambda r: r.agent_id).items()
        if agent_id is not None
    ]
    agents.sort(key=lambda a: (-a.count, a.agent_name, a.agent_id))
    departments = [
        DepartmentSatisfaction(department=department, **tally(r.score for r in rated).model_dump())
        for department, rated in _grouped(given, lambda r: r.department).items()
    ]
    departments.sort(key=lambda d: (-d.count, d.department is None, d.department or ""))
    return SatisfactionReport(
        since=since,
        until=until,
        overall=tally(r.score for r in given),
        resolved_by=ResolverSatisfaction(
            ai=tally(r.score for r in given if r.resolved_by == "ai"),
            human=tally(r.score for r in given if r.resolved_by == "human"),
        ),
        agents=agents,
        departments=departments,
    )
