"""Browser pages packaged with a service (the agent console, the web chat): plain HTML, CSS
and ES modules, nothing to build, served from a fixed list of files only, under a content
policy that allows scripts and styles from this origin alone, since the pages hold a token
or a key."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse

from ._http_errors import ApiError

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidate on every load (the ETag makes that cheap), so a new release is picked up.
    "Cache-Control": "no-cache",
}


SHARED_PAGES = Path(__file__).parent / "pages"
"""Files every packaged page may load, served beside its own (``dom.js``)."""


class PackagedPages:
    """The files of ``folder``: its ``index.html`` and, by name, the others it holds with a
    known media type, and the shared ones (listed once, at start-up). ``what`` names them in
    a 404."""

    def __init__(self, folder: Path, *, what: str) -> None:
        self._folder = folder
        self._what = what
        # The files every page shares (the DOM builder), then the page's own.
        self._assets = {**_assets(SHARED_PAGES), **_assets(folder)}

    def index(self) -> FileResponse:
        return _file(self._folder / "index.html")

    def asset(self, name: str) -> FileResponse:
        path = self._assets.get(name)
        if path is None:
            raise ApiError(404, "not_found", f"{self._what} has no file {name!r}")
        return _file(path)


def _assets(folder: Path) -> dict[str, Path]:
    return {
        path.name: path
        for path in folder.iterdir()
        if path.is_file() and path.suffix in MEDIA_TYPES and path.name != "index.html"
    }


def _file(path: Path) -> FileResponse:
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=PAGE_HEADERS)
