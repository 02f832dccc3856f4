"""The admin routes: agents, the feedback and action-audit exports, the labour and
satisfaction reports.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from baton_contracts import utc_now
from baton_runtime import ApiError

from ..agents import Agents
from ..domain import FIT_NAME_PATTERN, Role
from ..labour import LabourReport
from ..satisfaction import SatisfactionReport
from ..usecases import ActionRecords, Reports
from .auth import Auth

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    422: {"description": "Invalid body or parameters"},
}
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
RFC_3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _date_time(value: object) -> object:
    # What the schema promises (an RFC 3339 date-time), not every form pydantic would read
    # (Unix seconds, a date alone, no offset).
    if not isinstance(value, str) or not RFC_3339.match(value):
        raise ValueError("must be a date-time with its offset, e.g. 2026-03-01T12:00:00Z")
    return value


def _in_range(value: datetime) -> datetime:
    # Periods are computed from these (a week before `until`): the year 1 has no week before.
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


Moment = Annotated[datetime, BeforeValidator(_date_time), AfterValidator(_in_range)]


class CreateAgent(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=200, pattern=FIT_NAME_PATTERN, examples=["Alex"])
    departments: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=50, examples=[["billing"]]
    )
    role: Role = Field(
        default="agent",
        description="`agent`: its departments' tickets; `supervisor`: every department's, "
        "and may assign, transfer and take over.",
    )
    capacity: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="The most tickets the agent holds at once; omit for the configured default.",
    )


class AgentCreated(BaseModel):
    agent_id: str
    name: str
    departments: list[str]
    role: Role = "agent"
    capacity: int | None = None
    token: str = Field(description="The agent's API token. It is shown only this once.")


class AgentSummary(BaseModel):
    agent_id: str
    name: str
    departments: list[str]
    role: Role = "agent"
    capacity: int | None = Field(default=None, description="Null: the configured default.")
    active: bool
    created_at: datetime


class AgentList(BaseModel):
    agents: list[AgentSummary]


def admin_router(
    auth: Auth, *, agents: Agents, reports: Reports, actions: ActionRecords | None = None
) -> APIRouter:
    router = APIRouter(
        prefix="/v1/admin", tags=["admin"], dependencies=[Depends(auth.admin)], responses=ERRORS
    )

    @router.post("/agents", status_code=status.HTTP_201_CREATED)
    async def create_agent(body: CreateAgent) -> AgentCreated:
        """Create an agent. The response holds its token, which is not shown again."""
        created = await agents.create(
            body.name, body.departments, role=body.role, capacity=body.capacity
        )
        return AgentCreated(
            agent_id=created.agent.agent_id,
            name=created.agent.name,
            departments=list(created.agent.departments),
            role=created.agent.role,
            capacity=created.agent.capacity,
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
                    role=r.agent.role,
                    capacity=r.agent.capacity,
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
    async def export_feedback(
        since: Annotated[Moment | None, Query(description="Only feedback from then on.")] = None,
    ) -> StreamingResponse:
        """People's feedback on AI output, one JSON object per line: every approval (with
        its edit), rejection review and answer, with the AI output it refers to."""
        found = await reports.feedback(since)

        async def lines() -> AsyncIterator[str]:
            for feedback in found:
                yield feedback.model_dump_json() + "\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    if actions is not None:

        @router.get(
            "/actions",
            responses={200: {"content": {"application/x-ndjson": {}}}},
            response_class=StreamingResponse,
        )
        async def export_actions(
            since: Annotated[Moment | None, Query(description="Only records from then on.")] = None,
            until: Annotated[Moment | None, Query(description="Only records before then.")] = None,
        ) -> StreamingResponse:
            """The action audit, one JSON object per line, oldest first: every tool call the
            AI proposed for approval, edited, approved, denied or let expire (with who
            decided and when), and every call it ran, approved or needing no approval."""
            if since is not None and until is not None and since >= until:
                raise ApiError(422, "invalid_period", "`since` must be before `until`")
            found = await actions.export(since, until)

            async def lines() -> AsyncIterator[str]:
                for record in found:
                    yield record.model_dump_json() + "\n"

            return StreamingResponse(lines(), media_type="application/x-ndjson")

    @router.get("/labour")
    async def get_labour_report(
        since: Annotated[Moment | None, Query(description="Start; a week before `until`.")] = None,
        until: Annotated[Moment | None, Query(description="End (excluded); now.")] = None,
    ) -> LabourReport:
        """Per ticket created in [since, until): time to claim, to first response, and
        handling time per claim; aggregated per agent. Defaults to the last 7 days."""
        end = until or utc_now()
        start = since or end - timedelta(days=7)
        if start >= end:
            raise ApiError(422, "invalid_period", "`since` must be before `until`")
        return await reports.labour(start, end)

    @router.get("/satisfaction")
    async def get_satisfaction_report(
        since: Annotated[Moment | None, Query(description="Start; a week before `until`.")] = None,
        until: Annotated[Moment | None, Query(description="End (excluded); now.")] = None,
    ) -> SatisfactionReport:
        """The users' ratings (CSAT) given in [since, until): counts, average, CSAT (the
        share of 4 and 5) and the distribution of scores, overall, for the AI against
        people, per agent who resolved the conversation and per department. Defaults to
        the last 7 days."""
        end = until or utc_now()
        start = since or end - timedelta(days=7)
        if start >= end:
            raise ApiError(422, "invalid_period", "`since` must be before `until`")
        return await reports.satisfaction(start, end)

    return router
