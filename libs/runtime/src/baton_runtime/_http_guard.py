"""ASGI middleware every service's HTTP side runs: a request size limit and the headers
every response carries."""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._http_errors import SECURITY_HEADERS, CodedHTTPException, error_response


class BodyTooLargeError(CodedHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "body_too_large", f"the request body is larger than {limit} bytes")


class BodyLimit:
    """Refuses a request body larger than ``max_bytes`` with 413 before it is read whole:
    at once when its Content-Length says so, else as soon as the bytes streamed in so far
    (a chunked body) pass the limit."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            refusal = BodyTooLargeError(self.max_bytes)
            await error_response(413, refusal.code, str(refusal.detail))(scope, receive, send)
            return

        received = 0
        started = False

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, watched)
        except BodyTooLargeError as refusal:
            # Raised where no handler answers it (outside a route): answer it here.
            if started:
                raise
            await error_response(413, refusal.code, str(refusal.detail))(scope, receive, send)


class SecurityHeaders:
    """Every response says ``nosniff`` and, unless its route chose a cache policy of its own
    (static files), ``no-store``: API answers hold conversation data, which no browser or
    proxy may keep."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, with_headers)
