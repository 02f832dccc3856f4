"""The admin routes: agents, the feedback export and the labour report.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Depends, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from baton_contracts import utc_now
from baton_runtime import ApiError

from ..agents import Agents
from ..labour import LabourReport
from ..usecases import Reports
from .auth import Auth

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    422: {"description": "Invalid body"},
}


class CreateAgent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Alex"])
    departments: list[str] = Field(min_length=1, max_length=50, examples=[["billing"]])


class AgentCreated(BaseModel):
    agent_id: str
    name: str
    departments: list[str]
    token: str = Field(description="The agent's API token. It is shown only this once.")


class AgentSummary(BaseModel):
    agent_id: str
    name: str
    departments: list[str]
    active: bool
    created_at: datetime


class AgentList(BaseModel):
    agents: list[AgentSummary]


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def admin_router(auth: Auth, *, agents: Agents, reports: Reports) -> APIRouter:
    router = APIRouter(
        prefix="/v1/admin", tags=["admin"], dependencies=[Depends(auth.admin)], responses=ERRORS
    )

    @router.post("/agents", status_code=status.HTTP_201_CREATED)
    async def create_agent(body: CreateAgent) -> AgentCreated:
        """Create an agent. The response holds its token, which is not shown again."""
        created = await agents.create(body.name, body.departments)
        return AgentCreated(
            agent_id=created.agent.agent_id,
            name=created.agent.name,
            departments=list(created.agent.departments),
            token=created.token,
        )

    @router.get("/agents")
    async def list_agents() -> AgentList:
        return AgentList(
            agents=[
                AgentSummary(
                    agent_id=r.agent.agent_id,
                    name=r.agent.name,
                    departments=list(r.agent.departments),
                    active=r.active,
                    created_at=r.created_at,
                )
                for r in await agents.all()
            ]
        )

    @router.get(
        "/feedback.jsonl",
        responses={200: {"content": {"application/x-ndjson": {}}}},
        response_class=StreamingResponse,
    )
    async def feedback_export(since: datetime | None = None) -> StreamingResponse:
        """People's feedback on AI output, one JSON object per line: every approval (with
        its edit), rejection review and answer, with the AI output it refers to."""
        found = await reports.feedback(_aware(since) if since else None)

        async def lines() -> AsyncIterator[str]:
            for feedback in found:
                yield feedback.model_dump_json() + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @router.get("/labour")
    async def labour(since: datetime | None = None, until: datetime | None = None) -> LabourReport:
        """Per ticket created in [since, until): time to claim, to first response, and
        handling time per claim; aggregated per agent. Defaults to the last 7 days."""
        end = _aware(until) if until else utc_now()
        start = _aware(since) if since else end - timedelta(days=7)
        if start >= end:
            raise ApiError(422, "invalid_period", "`since` must be before `until`")
        return await reports.labour(start, end)

    return router
