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

from baton_runtime import ApiError

from ..agents import Agents
from ..api.auth import agent_bearer

STATIC = Path(__file__).with_name("static")
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate on every load (the ETag makes that cheap), so a new release is picked up.
    "Cache-Control": "no-cache",
}


class SignedInAgent(BaseModel):
    agent_id: str
    name: str
    departments: list[str]


def _assets() -> dict[str, Path]:
    return {
        path.name: path
        for path in STATIC.iterdir()
        if path.is_file() and path.suffix in MEDIA_TYPES and path.name != "index.html"
    }


def _file(path: Path) -> FileResponse:
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=HEADERS)


def console_router(agents: Agents) -> APIRouter:
    router = APIRouter(prefix="/console")
    assets = _assets()

    @router.get("", include_in_schema=False)
    async def console_root() -> RedirectResponse:
        # Relative, so the console also works behind a proxy that adds a path prefix.
        return RedirectResponse("console/")

    @router.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return _file(STATIC / "index.html")

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
        path = assets.get(name)
        if path is None:
            raise ApiError(404, "not_found", f"the console has no file {name!r}")
        return _file(path)

    return router
