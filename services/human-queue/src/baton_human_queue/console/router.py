"""Routes of the agent console: its static files under ``/console/`` and ``/console/me``.

The console is plain HTML, CSS and ES modules: nothing to build. Pages and scripts are
served only from a fixed list of files, with a Content-Security-Policy that allows scripts
from this origin alone, because the page holds the agent's token.

No ``from __future__ import annotations``: FastAPI reads the routes' annotations.
"""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from baton_runtime import ApiError, PackagedPages

from ..agents import Agents
from ..api.auth import agent_bearer

STATIC = Path(__file__).with_name("static")


class SignedInAgent(BaseModel):
    agent_id: str
    name: str
    departments: list[str]


def console_router(agents: Agents) -> APIRouter:
    router = APIRouter(prefix="/console")
    pages = PackagedPages(STATIC, what="the console")

    @router.get("", include_in_schema=False)
    async def console_root() -> RedirectResponse:
        # Relative, so the console also works behind a proxy that adds a path prefix.
        return RedirectResponse("console/")

    @router.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return pages.index()

    @router.get(
        "/me",
        tags=["console"],
        responses={401: {"description": "Missing or invalid token"}},
    )
    async def get_signed_in_agent(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(agent_bearer)],
    ) -> SignedInAgent:
        """The agent the bearer token belongs to: the console's sign-in check."""
        if credentials is None:
            raise ApiError(401, "unauthenticated", "send an agent token: Authorization: Bearer …")
        agent = await agents.authenticate(credentials.credentials)
        if agent is None:
            raise ApiError(401, "invalid_token", "the bearer token is not a valid agent token")
        return SignedInAgent(
            agent_id=agent.agent_id, name=agent.name, departments=list(agent.departments)
        )

    @router.get("/{name}", include_in_schema=False)
    async def asset(name: str) -> FileResponse:
        return pages.asset(name)

    return router
