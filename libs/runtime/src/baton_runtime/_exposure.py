"""Who may read ``/metrics``: anyone who reaches the API (the default), only callers with
the metrics token (``HTTP_METRICS_TOKEN``), or only those who reach a port of its own
(``HTTP_METRICS_PORT``), which a deployment keeps off its public network.

No ``from __future__ import annotations``: FastAPI reads the routes' annotations.
"""

import hmac

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from ._http_errors import ApiError, install_error_handlers
from ._http_guard import SecurityHeaders
from ._settings import HttpSettings

BEARER = "bearer "


def metrics_router(
    registry: CollectorRegistry = REGISTRY, *, token: SecretStr | None = None
) -> APIRouter:
    router = APIRouter(tags=["metrics"])
    expected = token.get_secret_value().encode() if token is not None else None

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "")
            if not given.lower().startswith(BEARER):
                raise ApiError(401, "unauthenticated", "send the metrics token as a bearer token")
            if not hmac.compare_digest(given[len(BEARER) :].strip().encode(), expected):
                raise ApiError(401, "invalid_token", "the bearer token is not the metrics token")
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router


def metrics_app(settings: HttpSettings, registry: CollectorRegistry = REGISTRY) -> FastAPI:
    """The app of the metrics port: ``/metrics`` and nothing else."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    install_error_handlers(app)
    app.add_middleware(SecurityHeaders)
    app.include_router(metrics_router(registry, token=settings.metrics_token))
    return app


class ByPort:
    """Requests to the metrics port go to the metrics app, all others (and the lifespan)
    to the service's app: one server, two listening sockets."""

    def __init__(self, app: ASGIApp, *, metrics: ASGIApp, port: int) -> None:
        self.app = app
        self.metrics = metrics
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server") or (None, None)
        if scope["type"] == "http" and server[1] == self.port:
            await self.metrics(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install_metrics(app: FastAPI, settings: HttpSettings) -> None:
    """``/metrics`` on the app itself, or (with a metrics port) on an app of its own that
    :func:`served_app` puts in front."""
    app.state.http = settings
    if settings.metrics_port is None:
        app.include_router(metrics_router(token=settings.metrics_token))
    else:
        app.state.metrics_app = metrics_app(settings)


def metrics_listener(app: FastAPI, host: str) -> list[tuple[str, int]]:
    """The metrics port's address, when the app has one of its own."""
    settings: HttpSettings | None = getattr(app.state, "http", None)
    if settings is None or settings.metrics_port is None:
        return []
    return [(settings.metrics_host or host, settings.metrics_port)]


def served_app(app: FastAPI) -> ASGIApp:
    """What the server runs: the app, behind :class:`ByPort` when metrics have a port."""
    metrics: ASGIApp | None = getattr(app.state, "metrics_app", None)
    settings: HttpSettings | None = getattr(app.state, "http", None)
    if metrics is None or settings is None or settings.metrics_port is None:
        return app
    return ByPort(app, metrics=metrics, port=settings.metrics_port)
