"""The services' OpenAPI documents as clients need them: every 4xx answer declares the
error body, and every operation has a readable ``operationId`` (its route's name)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from ._http_errors import error_schema

ERROR_REF = {"$ref": "#/components/schemas/Error"}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
# FastAPI's own 422 body; every 422 answers with the error body instead.
UNUSED = ("HTTPValidationError", "ValidationError")


def operation_id(route: APIRoute) -> str:
    """The route's name (``claim_ticket``), not FastAPI's name-path-method default."""
    return route.name


def declare_errors(document: dict[str, Any]) -> dict[str, Any]:
    """Give each operation the errors any request can meet (413 with a body, 422 with
    input, 401 when it needs credentials) and every 4xx the error body."""
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if "requestBody" in operation:
                responses.setdefault("413", {"description": "The body is larger than the limit"})
            if "requestBody" in operation or operation.get("parameters"):
                responses.setdefault("422", {})
                if responses["422"].get("description") in (None, "Validation Error"):
                    responses["422"]["description"] = "Invalid request"
            if operation.get("security"):
                responses.setdefault("401", {"description": "Missing or invalid credentials"})
            for status, response in responses.items():
                if status.startswith("4"):
                    response.setdefault("description", "Refused")
                    response["content"] = {"application/json": {"schema": dict(ERROR_REF)}}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in UNUSED:
        schemas.pop(name, None)
    schemas["Error"] = error_schema()
    return document


def install_openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """Replace ``app.openapi`` with one that declares the error body (built once, on the
    first request for it, when every router is included)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
                servers=app.servers,
            )
            app.openapi_schema = declare_errors(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return openapi
