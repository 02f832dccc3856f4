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

from baton_runtime import ApiError

STATIC = Path(__file__).with_name("static")
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
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


def _assets() -> dict[str, Path]:
    return {
        path.name: path
        for path in STATIC.iterdir()
        if path.is_file() and path.suffix in MEDIA_TYPES and path.name != "index.html"
    }


def _file(path: Path) -> FileResponse:
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=HEADERS)


def chat_router() -> APIRouter:
    router = APIRouter(prefix="/chat", include_in_schema=False)
    assets = _assets()

    # The page is /chat itself (its files are chat/<name>), so the link `make run` prints,
    # /chat#key=..., needs no redirect.
    @router.get("")
    async def page() -> FileResponse:
        return _file(STATIC / "index.html")

    @router.get("/{name}")
    async def asset(name: str) -> FileResponse:
        path = assets.get(name)
        if path is None:
            raise ApiError(404, "not_found", f"the web chat has no file {name!r}")
        return _file(path)

    return router
