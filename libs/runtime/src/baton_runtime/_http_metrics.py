"""HTTP request metrics and log context: one ASGI middleware every service's app runs.

Requests are labelled by their route's template (``/v1/tickets/{ticket_id}``), never by the
path itself, so ids do not become series; a path no route matches counts as ``unmatched``.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._logging import log_context

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"

HTTP_REQUESTS = Counter(
    "baton_http_requests_total",
    "HTTP requests answered, by service, route template, method and status code.",
    ["service", "route", "method", "status"],
)
HTTP_REQUEST_SECONDS = Histogram(
    "baton_http_request_seconds",
    "Time from a request's arrival to the end of its answer, by service, route template "
    "and method.",
    ["service", "route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def _route(scope: Scope) -> str:
    # FastAPI puts the matched route in the scope while routing.
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestMetrics:
    """Counts and times each HTTP request of ``service``, and puts its method and route in
    the log context of everything logged while it is served."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in METHODS else "other"
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler is answered with a 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            with log_context(http_method=method):
                await self.app(scope, receive, sending)
        finally:
            route = _route(scope)
            HTTP_REQUESTS.labels(self.service, route, method, str(status)).inc()
            HTTP_REQUEST_SECONDS.labels(self.service, route, method).observe(
                time.perf_counter() - started
            )
