"""The OpenAPI UI at ``/docs``: Swagger UI from assets packaged with the service (the
``fastapi-offline`` wheel), never from a CDN (decision 15).

The page runs no inline script, so its Content-Security-Policy allows scripts from this
origin only: what the page runs is exactly what was installed with the service.

No ``from __future__ import annotations``: FastAPI reads the routes' annotations.
"""

import html
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

from ._http_errors import ApiError

ASSETS = Path(str(files("fastapi_offline").joinpath("static")))
SERVED = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
HEADERS = {
    # Swagger UI shows data: images; "Try it out" calls this origin.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'none'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
INIT = """\
// Reads the OpenAPI document next to this page (relative, so a path prefix still works).
window.ui = SwaggerUIBundle({
  url: new URL("../openapi.json", window.location.href).pathname,
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true,
  showCommonExtensions: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""
PAGE = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
"""


def docs_router(title: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    page = PAGE.format(title=html.escape(f"{title} - API"))

    @router.get("/docs")
    async def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=HEADERS)

    @router.get("/docs/init.js")
    async def docs_init() -> Response:
        return Response(INIT, media_type="text/javascript; charset=utf-8", headers=HEADERS)

    @router.get("/docs/{name}")
    async def docs_asset(name: str) -> FileResponse:
        media_type = SERVED.get(name)
        if media_type is None:
            raise ApiError(404, "not_found", f"the API docs have no file {name!r}")
        return FileResponse(ASSETS / name, media_type=media_type, headers=HEADERS)

    return router
