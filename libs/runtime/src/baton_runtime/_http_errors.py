"""One shape for every HTTP error: ``{"detail": "<one readable sentence>", "code": "<code>"}``.

Refusals of the services' own (:class:`RefusedError`, :class:`ApiError`), invalid requests
(bad JSON, a missing field), the framework's own answers (no such route, method not
allowed, body too large) and failures all answer in that shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ._errors import RefusedError

log = logging.getLogger(__name__)

MAX_DETAIL_LENGTH = 1000
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
"""Set by the services' middleware; repeated on error bodies that leave before it runs."""

CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


class ApiError(RefusedError):
    """A refusal raised by an HTTP layer itself, e.g. ``ApiError(401, "invalid_token", ...)``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, status=status, code=code)


class CodedHTTPException(HTTPException):
    """An HTTP exception with a machine ``code``: one the framework passes through (it
    turns other exceptions raised while it reads a body into a bare 400)."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(status_code=status, detail=detail)
        self.code = code


def error_body(detail: str, code: str) -> dict[str, str]:
    """The error body, safe to encode whatever the request held: text that came from the
    caller (a field name, a path) may hold lone surrogates, which UTF-8 cannot carry."""
    text = detail.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) > MAX_DETAIL_LENGTH:
        text = text[: MAX_DETAIL_LENGTH - 1] + "…"
    return {"detail": text, "code": code}


def error_response(
    status: int, code: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        error_body(detail, code),
        status_code=status,
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


def _http_detail(request: Request, exc: HTTPException) -> str:
    status = exc.status_code
    standard = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    if exc.detail and exc.detail != standard:
        return str(exc.detail)
    if status == 404:
        return f"there is nothing at {request.url.path}"
    if status == 405:
        allowed = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow")
        also = f"; it allows {allowed}" if allowed else ""
        return f"{request.url.path} does not allow {request.method}{also}"
    return f"{standard or 'the request was refused'}".capitalize()


def _validation_detail(exc: RequestValidationError) -> tuple[str, str]:
    problems = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "it cannot be decoded")
            return f"the body is not valid JSON: {reason}", "invalid_json"
        location = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        problems.append(f"{location or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request", "invalid_request"


def install_error_handlers(app: FastAPI) -> None:
    """Uniform error bodies: ``{"detail": "<one readable sentence>", "code": "<machine code>"}``."""

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RefusedError)
        return error_response(exc.status, exc.code, exc.message)

    async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail, code = _validation_detail(exc)
        return error_response(422, code, detail)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        status = exc.status_code
        if status == 400 and isinstance(exc.__cause__, ValueError):
            # The framework's answer to a body it cannot decode (not UTF-8): bad JSON too.
            return error_response(
                422, "invalid_json", f"the body is not valid JSON: {exc.__cause__}"
            )
        code = getattr(exc, "code", None) or CODES.get(status, "http_error")
        return error_response(status, code, _http_detail(request, exc), exc.headers)

    async def failed(request: Request, exc: Exception) -> JSONResponse:
        # The exception itself is logged by the server; its text stays out of the answer.
        log.debug("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal_error", "the service could not handle the request")

    app.add_exception_handler(RefusedError, refused)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, failed)


def error_schema() -> dict[str, Any]:
    """The error body's JSON Schema, for the OpenAPI documents."""
    return {
        "title": "Error",
        "type": "object",
        "required": ["detail", "code"],
        "properties": {
            "detail": {"type": "string", "description": "What went wrong, in one sentence."},
            "code": {
                "type": "string",
                "description": "A machine-readable code, e.g. `unknown_ticket`.",
            },
        },
    }
