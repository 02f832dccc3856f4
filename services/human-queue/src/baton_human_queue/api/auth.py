"""Who calls the API: an agent, with its token, or the admin, with the admin token.

No ``from __future__ import annotations`` here: FastAPI reads the dependencies' annotations.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from baton_runtime import ApiError

from ..agents import Agents, same_secret
from ..domain import Agent
from ..staffing import AgentState

# Two schemes, so the OpenAPI document says which token each operation takes.
agent_bearer = HTTPBearer(
    scheme_name="agentToken",
    auto_error=False,
    description="An agent's API token (`bq_...`), created by an admin and shown once.",
)
admin_bearer = HTTPBearer(
    scheme_name="adminToken",
    auto_error=False,
    description="The admin token (`HUMAN_QUEUE_ADMIN_TOKEN`), for the `/v1/admin` endpoints.",
)
AgentCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(agent_bearer)]
AdminCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)]


class Auth:
    """The API's two dependencies: :meth:`agent` (the signed-in agent) and :meth:`admin`."""

    def __init__(
        self,
        agents: Agents,
        admin_token: SecretStr,
        seen: Callable[[AgentState], Awaitable[None]] | None = None,
    ) -> None:
        self._agents = agents
        self._admin_token = admin_token
        self._seen = seen

    async def agent(self, credentials: AgentCredentials) -> Agent:
        if credentials is None:
            raise ApiError(401, "unauthenticated", "send an agent token: Authorization: Bearer …")
        # A deactivated agent, or a rotated-out token, finds no active agent: refused at once.
        state = await self._agents.signed_in(credentials.credentials)
        if state is None:
            raise ApiError(401, "invalid_token", "the bearer token is not a valid agent token")
        if self._seen is not None:
            await self._seen(state)  # every request is a sign of life (presence)
        return state.agent

    async def admin(self, credentials: AdminCredentials) -> None:
        if credentials is None:
            raise ApiError(401, "unauthenticated", "send the admin token: Authorization: Bearer …")
        if not same_secret(credentials.credentials, self._admin_token.get_secret_value()):
            raise ApiError(401, "invalid_token", "the bearer token is not the admin token")
