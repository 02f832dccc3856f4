"""Ingest's HTTP API: the gateways' routes and the admin's (gateways, their webhooks)."""

from fastapi import APIRouter
from pydantic import SecretStr

from ..front import Front
from ..live import Live
from ..registry import Gateways
from ..webhooks import Webhooks
from .admin import admin_router
from .auth import Auth
from .stream import stream_router
from .threads import threads_router
from .webhooks import webhooks_router

__all__ = ["api_router"]


def api_router(
    *, front: Front, gateways: Gateways, webhooks: Webhooks, live: Live, admin_token: SecretStr
) -> APIRouter:
    auth = Auth(gateways, admin_token)
    router = APIRouter()
    router.include_router(threads_router(auth, front))
    router.include_router(stream_router(auth, front, live))
    router.include_router(admin_router(auth, gateways=gateways))
    router.include_router(webhooks_router(auth, webhooks=webhooks))
    return router
