"""The human-queue HTTP API for agents, their consoles, and admins: one router per area."""

from fastapi import APIRouter
from pydantic import SecretStr

from ..agents import Agents
from ..usecases import Claims, HolderActions, Reading, Reports
from .admin import admin_router
from .auth import Auth
from .threads import threads_router
from .tickets import tickets_router

__all__ = ["api_router"]


def api_router(
    *,
    agents: Agents,
    admin_token: SecretStr,
    reading: Reading,
    claims: Claims,
    holder: HolderActions,
    reports: Reports,
) -> APIRouter:
    auth = Auth(agents, admin_token)
    router = APIRouter()
    router.include_router(tickets_router(auth, reading=reading, claims=claims, holder=holder))
    router.include_router(threads_router(auth, reading=reading))
    router.include_router(admin_router(auth, agents=agents, reports=reports))
    return router
