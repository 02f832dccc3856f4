"""Routes of the web chat: its page at ``/chat`` and its static files under ``/chat/``.

The page is plain HTML, CSS and ES modules: nothing to build. Files are served from a
fixed list only, with a Content-Security-Policy that allows scripts and styles from this
origin alone, because the page holds a gateway key. The server never writes the key into
the page: the page reads it from the URL's fragment (which browsers do not send) or asks
for it, and keeps it in the tab's sessionStorage.

No ``from __future__ import annotations``: FastAPI reads the routes' annotations.
"""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from baton_runtime import PackagedPages

STATIC = Path(__file__).with_name("static")


def chat_router() -> APIRouter:
    router = APIRouter(prefix="/chat", include_in_schema=False)
    pages = PackagedPages(STATIC, what="the web chat")

    # The page is /chat itself (its files are chat/<name>), so the link `make run` prints,
    # /chat#key=..., needs no redirect.
    @router.get("")
    async def page() -> FileResponse:
        return pages.index()

    @router.get("/{name}")
    async def asset(name: str) -> FileResponse:
        return pages.asset(name)

    return router
