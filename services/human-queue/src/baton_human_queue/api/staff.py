"""The team's routes: an agent's own presence and load, and the admin's changes to agents
and to departments' assignment policies.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from baton_runtime import ApiError

from ..agents import Agents
from ..domain import FIT_NAME_PATTERN, Agent, Role
from ..ports import AgentChanges
from ..staffing import AgentState, Policy, Presence
from ..usecases.assignment import Assigner
from ..usecases.staff import Staff
from .auth import Auth

AGENT_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    422: {"description": "Invalid body"},
}
ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid admin token"},
    404: {"description": "Unknown agent"},
    422: {"description": "Invalid body"},
}
AgentId = Annotated[
    str, Path(max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$", description="Agent id.")
]
Department = Annotated[
    str, Path(min_length=1, max_length=100, pattern=FIT_NAME_PATTERN, description="Department.")
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class StatusBody(_Body):
    status: Presence = Field(description="`online` gets tickets handed out; `away`, `offline` not.")


class AgentChangesBody(_Body):
    departments: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, min_length=1, max_length=50
    )
    role: Role | None = None
    capacity: int | None = Field(
        default=None, ge=1, le=1000, description="A number, or null for the configured default."
    )
    active: bool | None = Field(
        default=None,
        description="`false`: the token stops working at once and the agent's tickets go back "
        "to the queue.",
    )


class PolicyBody(_Body):
    policy: Policy = Field(
        description="`manual`: agents claim; `round_robin`: the online agent given one longest "
        "ago; `least_busy`: the online agent holding the fewest."
    )


class AgentView(BaseModel):
    agent_id: str
    name: str
    departments: list[str]
    role: Role
    active: bool
    status: Presence
    capacity: int = Field(description="The most tickets the agent holds at once.")
    own_capacity: int | None = Field(description="The agent's own setting; null: the default.")
    open_tickets: int = Field(description="Tickets the agent holds now.")
    ticket_ids: list[str] = Field(description="Those tickets' ids.")

    @classmethod
    def of(cls, state: AgentState, staff: Staff) -> "AgentView":
        agent = state.agent
        return cls(
            agent_id=agent.agent_id,
            name=agent.name,
            departments=list(agent.departments),
            role=agent.role,
            active=state.active,
            status=state.status,
            capacity=staff.capacity(state),
            own_capacity=agent.capacity,
            open_tickets=state.open_tickets,
            ticket_ids=[s.ticket_id for s in state.slots],
        )


class NewToken(BaseModel):
    agent_id: str
    token: str = Field(description="The agent's new API token. It is shown only this once.")


class DepartmentPolicy(BaseModel):
    department: str
    policy: Policy


class DepartmentPolicies(BaseModel):
    departments: list[DepartmentPolicy]


def staff_router(auth: Auth, *, agents: Agents, staff: Staff, assigner: Assigner) -> APIRouter:
    router = APIRouter()
    SignedIn = Annotated[Agent, Depends(auth.agent)]  # noqa: N806 - a type alias
    me = APIRouter(prefix="/v1/agents", tags=["agents"], responses=AGENT_ERRORS)

    @me.get("/me")
    async def get_me(agent: SignedIn) -> AgentView:
        """You: your role, presence, capacity and the tickets you hold."""
        return AgentView.of(await staff.get(agent.agent_id), staff)

    @me.put("/me/status")
    async def set_my_status(agent: SignedIn, body: StatusBody) -> AgentView:
        """Your presence. Online, you get tickets of auto-assigned departments; silent for
        the configured time, you become away until your next request."""
        return AgentView.of(await staff.set_status(agent, body.status), staff)

    admin = APIRouter(
        prefix="/v1/admin",
        tags=["admin"],
        dependencies=[Depends(auth.admin)],
        responses=ADMIN_ERRORS,
    )

    @admin.patch("/agents/{agent_id}")
    async def update_agent(agent_id: AgentId, body: AgentChangesBody) -> AgentView:
        """Change an agent's departments, role, capacity or `active`. Deactivating stops
        its token at once and puts its tickets back in the queue."""
        changes = AgentChanges(
            departments=tuple(body.departments) if body.departments is not None else None,
            role=body.role,
            capacity=body.capacity,
            default_capacity="capacity" in body.model_fields_set and body.capacity is None,
            active=body.active,
        )
        return AgentView.of(await staff.change(agent_id, changes), staff)

    @admin.post("/agents/{agent_id}/token")
    async def rotate_agent_token(agent_id: AgentId) -> NewToken:
        """A new token for the agent, shown once; the old one stops working at once."""
        token = await agents.rotate_token(agent_id)
        if token is None:
            raise ApiError(404, "unknown_agent", f"agent {agent_id!r} does not exist")
        return NewToken(agent_id=agent_id, token=token)

    @admin.get("/departments")
    async def list_department_policies() -> DepartmentPolicies:
        """Departments with an assignment policy (configured or set here); others: manual."""
        policies = await assigner.policies()
        return DepartmentPolicies(
            departments=[
                DepartmentPolicy(department=d, policy=p) for d, p in sorted(policies.items())
            ]
        )

    @admin.put("/departments/{department}")
    async def set_department_policy(department: Department, body: PolicyBody) -> DepartmentPolicy:
        """Set a department's assignment policy; it overrides the configured one. An
        auto-assigned department's waiting tickets are handed out at once."""
        policy = await assigner.set_policy(department, body.policy)
        return DepartmentPolicy(department=department, policy=policy)

    router.include_router(me)
    router.include_router(admin)
    return router
