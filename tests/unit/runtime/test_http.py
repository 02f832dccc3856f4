"""The HTTP side every service shares (service_app): errors in one shape, the body size
limit, response headers, readiness without exception text, metrics exposure, the docs UI
from packaged assets and the OpenAPI document's error bodies and operation ids."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from prometheus_client import REGISTRY
from pydantic import BaseModel, ConfigDict, SecretStr

from baton_runtime import (
    ApiError,
    HttpSettings,
    KafkaSettings,
    MongoSettings,
    build_broker,
    connect_mongo,
    database,
    health_router,
    served_app,
    service_app,
)

LIMIT = 4096
METRICS_TOKEN = "metrics-token-0123456789"


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    tags: dict[str, int] = {}


def routes() -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.post("/notes", status_code=201)
    async def post_note(body: Note) -> dict[str, int]:
        return {"length": len(body.text)}

    @router.get("/notes/{note_id}", responses={404: {"description": "Unknown note"}})
    async def get_note(note_id: str) -> dict[str, str]:
        raise ApiError(404, "unknown_note", f"no note {note_id}")

    @router.get("/broken")
    async def broken() -> None:
        raise RuntimeError("secret-host:27017 refused the connection")

    return router


@contextmanager
def app_with(http: HttpSettings) -> Iterator[FastAPI]:
    kafka, mongo_settings = KafkaSettings(), MongoSettings()
    mongo = connect_mongo(mongo_settings, app_name="test")
    app = service_app(
        title="Test service",
        broker=build_broker(kafka, client_id="test"),
        mongo=mongo,
        db=database(mongo, mongo_settings),
        kafka=kafka,
        topics=(),
        http=http,
        service="test-service",
    )
    app.include_router(routes())
    yield app


def client(app: Any, base_url: str = "http://svc:8000") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    with app_with(HttpSettings(max_body_bytes=LIMIT)) as app:
        async with client(app) as c:
            yield c


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"detail", "code"}, body
    assert body["code"] == code, body
    assert isinstance(body["detail"], str)
    assert body["detail"]
    return body


async def test_unknown_routes_and_methods_answer_in_the_error_shape(
    http: httpx.AsyncClient,
) -> None:
    assert_error(await http.get("/v1/nothing-here"), 404, "not_found")
    wrong = await http.delete("/v1/notes")
    assert_error(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"] == "POST"
    assert_error(await http.get("/v1/notes/n1"), 404, "unknown_note")


async def test_bad_bodies_answer_in_the_error_shape(http: httpx.AsyncClient) -> None:
    headers = {"content-type": "application/json"}
    assert_error(
        await http.post("/v1/notes", content=b"{nope", headers=headers), 422, "invalid_json"
    )
    assert_error(await http.post("/v1/notes", json={}), 422, "invalid_request")
    assert_error(await http.post("/v1/notes", content=b"text", headers={}), 422, "invalid_request")
    # A key the caller chose, with a lone surrogate, is named in an answer UTF-8 can carry.
    surrogate = b'{"text": "hi", "tags": {"\\ud800": "x"}}'
    body = assert_error(
        await http.post("/v1/notes", content=surrogate, headers=headers), 422, "invalid_request"
    )
    assert body["detail"].startswith("tags.")


async def test_a_failure_answers_500_without_its_exception_text(http: httpx.AsyncClient) -> None:
    body = assert_error(await http.get("/v1/broken"), 500, "internal_error")
    assert "secret-host" not in body["detail"]


async def test_a_declared_oversized_body_is_refused_before_it_is_read(
    http: httpx.AsyncClient,
) -> None:
    text = "x" * LIMIT
    assert_error(await http.post("/v1/notes", json={"text": text}), 413, "body_too_large")
    ok = await http.post("/v1/notes", json={"text": "x" * (LIMIT - 100)})
    assert ok.status_code == 201, ok.text


async def test_a_streamed_body_is_refused_once_it_passes_the_limit(
    http: httpx.AsyncClient,
) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'{"text": "'
        for _ in range(1000):
            sent += 1024
            yield b"x" * 1024
        yield b'"}'

    response = await http.post(
        "/v1/notes", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "body_too_large")
    assert "content-length" not in response.request.headers


async def test_every_answer_says_nosniff_and_no_store(http: httpx.AsyncClient) -> None:
    for response in (
        await http.post("/v1/notes", json={"text": "hi"}),
        await http.get("/v1/notes/n1"),
        await http.get("/health/live"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


async def test_readiness_names_what_is_down_without_the_exception_text() -> None:
    async def ok() -> None:
        return None

    async def down() -> None:
        raise ConnectionError("mongodb://admin:hunter2@db.internal:27017 refused")

    app = FastAPI()
    app.include_router(health_router({"kafka": ok, "mongodb": down}))
    async with client(app) as c:
        response = await c.get("/health/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "not_ready"
    assert "mongodb" in body["detail"]
    assert body["checks"] == {"kafka": "ok", "mongodb": "down"}
    assert "hunter2" not in response.text
    assert "db.internal" not in response.text


async def test_metrics_can_require_a_token() -> None:
    with app_with(HttpSettings(metrics_token=SecretStr(METRICS_TOKEN))) as app:
        async with client(app) as c:
            assert_error(await c.get("/metrics"), 401, "unauthenticated")
            wrong = await c.get("/metrics", headers={"Authorization": "Bearer wrong-token"})
            assert_error(wrong, 401, "invalid_token")
            right = await c.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
            assert right.status_code == 200
            assert "python_info" in right.text


async def test_metrics_can_have_a_port_of_their_own() -> None:
    with app_with(HttpSettings(metrics_port=9464)) as app:
        served = served_app(app)
        async with client(served) as api, client(served, "http://svc:9464") as metrics:
            assert_error(await api.get("/metrics"), 404, "not_found")
            assert (await metrics.get("/metrics")).status_code == 200
            assert_error(await metrics.get("/v1/notes/n1"), 404, "not_found")
            assert (await api.get("/health/live")).status_code == 200


async def test_the_docs_ui_loads_only_from_this_origin(http: httpx.AsyncClient) -> None:
    page = await http.get("/docs")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "default-src 'none'" in csp
    assert "http" not in page.text.replace('rel="stylesheet"', "")
    assert "<script>" not in page.text  # no inline script: the CSP would refuse it
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css", "init.js", "favicon.png"):
        response = await http.get(f"/docs/{asset}")
        assert response.status_code == 200, asset
        assert response.headers["x-content-type-options"] == "nosniff"
    assert_error(await http.get("/docs/../../etc/passwd"), 404, "not_found")
    assert_error(await http.get("/docs/index.html"), 404, "not_found")
    assert (await http.get("/redoc")).status_code == 404


async def test_the_openapi_document_declares_the_error_body_and_names_operations(
    http: httpx.AsyncClient,
) -> None:
    document = (await http.get("/openapi.json")).json()
    operations = {
        op["operationId"]: op
        for item in document["paths"].values()
        for method, op in item.items()
        if method in {"get", "post"}
    }
    assert {"post_note", "get_note", "health_live", "health_ready"} <= set(operations)
    assert set(operations["post_note"]["responses"]) >= {"201", "413", "422"}
    assert set(operations["get_note"]["responses"]) >= {"200", "404", "422"}
    for op in operations.values():
        for status, response in op["responses"].items():
            if status.startswith("4"):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, op["operationId"]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["detail", "code"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


def requests_counted(route: str, method: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "baton_http_requests_total",
        {"service": "test-service", "route": route, "method": method, "status": status},
    )
    return value or 0.0


async def test_requests_are_counted_and_timed_by_route_template_not_path(
    http: httpx.AsyncClient,
) -> None:
    before = requests_counted("/v1/notes/{note_id}", "GET", "404")
    unmatched = requests_counted("unmatched", "GET", "404")
    refused = requests_counted("unmatched", "POST", "413")
    for note_id in ("n1", "n2", "n3"):
        await http.get(f"/v1/notes/{note_id}")
    await http.get("/v1/nowhere/at/all")
    await http.post("/v1/notes", content=b"x" * (LIMIT + 1))
    assert requests_counted("/v1/notes/{note_id}", "GET", "404") == before + 3
    assert requests_counted("unmatched", "GET", "404") == unmatched + 1
    # Refused before routing: counted all the same, under no route.
    assert requests_counted("unmatched", "POST", "413") == refused + 1
    timed = REGISTRY.get_sample_value(
        "baton_http_request_seconds_count",
        {"service": "test-service", "route": "/v1/notes/{note_id}", "method": "GET"},
    )
    assert timed is not None
    assert timed >= 3
    paths = {s.labels.get("route") for m in REGISTRY.collect() for s in m.samples}
    assert "/v1/notes/n1" not in paths
