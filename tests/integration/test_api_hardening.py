"""Both HTTP APIs against hostile input, through the real services: oversized bodies, error
bodies of one shape on every path, response headers, and the human queue's input checks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.support.pipeline import Pipeline
from tests.support.queue import AgentClient, department, new_agent, token

pytestmark = pytest.mark.integration

TWENTY_MB = 20 * 1024 * 1024
METHODS = ("get", "post", "put", "patch", "delete")


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    where = f"{response.request.method} {response.request.url.path}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/json", where
    body = response.json()
    assert set(body) == {"detail", "code"}, f"{where}: {body}"
    assert isinstance(body["detail"], str), where
    assert body["detail"], where
    if code is not None:
        assert body["code"] == code, f"{where}: {body}"


async def agent_of_its_own(pipeline: Pipeline) -> AgentClient:
    return await new_agent(pipeline.queue, pipeline.admin_token, "Hardy", department())


async def twenty_megabytes() -> AsyncIterator[bytes]:
    chunk = b"x" * (1024 * 1024)
    yield b'{"text": "'
    for _ in range(20):
        yield chunk
    yield b'"}'


@pytest.mark.parametrize("service", ["ingest", "human-queue"])
async def test_a_20_mb_body_is_refused_with_413(pipeline: Pipeline, service: str) -> None:
    agent = await agent_of_its_own(pipeline)
    path = "/v1/threads" if service == "ingest" else "/v1/tickets/t-1/reply"
    headers = {"content-type": "application/json", **agent.headers}
    async with httpx.AsyncClient(base_url=pipeline.urls[service], timeout=30) as http:
        declared = await http.post(path, content=b"x" * TWENTY_MB, headers=headers)
        assert_error(declared, 413, "body_too_large")
        streamed = await http.post(path, content=twenty_megabytes(), headers=headers)
        assert_error(streamed, 413, "body_too_large")
        assert "content-length" not in streamed.request.headers
        # The service still answers afterwards.
        assert (await http.get("/health/live")).status_code == 200


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def concrete(path: str) -> str:
    return path.replace("{ticket_id}", "t-1").replace("{thread_id}", "th-1")


@pytest.mark.parametrize("service", ["ingest", "human-queue"])
async def test_every_error_of_every_route_has_the_error_shape(
    pipeline: Pipeline, service: str
) -> None:
    agent = await agent_of_its_own(pipeline)
    async with httpx.AsyncClient(base_url=pipeline.urls[service], timeout=10) as http:
        document = (await http.get("/openapi.json")).json()
        ops = operations(document)
        assert ops
        for path, method, op in ops:
            url = concrete(path)
            allowed = {m for m in METHODS if m in document["paths"][path]}
            for wrong in sorted(set(METHODS) - allowed):
                assert_error(await http.request(wrong, url), 405, "method_not_allowed")
            if "requestBody" in op:
                for body, code in ((b"{not json", "invalid_json"), (b"[1, 2]", None)):
                    response = await http.request(
                        method,
                        url,
                        content=body,
                        headers={"content-type": "application/json", **agent.headers},
                    )
                    assert 400 <= response.status_code < 500, (path, response.text)
                    assert_error(response, response.status_code, code)
            if op.get("security"):
                assert_error(await http.request(method, url), 401)
                bad = {"Authorization": "Bearer not-a-token"}
                assert_error(await http.request(method, url, headers=bad), 401)
            for status in op["responses"]:
                if status.startswith("4"):
                    schema = op["responses"][status]["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, status)
        for unknown in ("/nothing", "/v1/nothing/here", "/v1/tickets/t-1/unknown"):
            assert_error(await http.get(unknown), 404, "not_found")


async def test_readiness_names_each_dependency(pipeline: Pipeline) -> None:
    for service in ("ingest", "router", "ai-responder", "human-queue"):
        async with httpx.AsyncClient(base_url=pipeline.urls[service], timeout=10) as http:
            ready = await http.get("/health/ready")
        assert ready.status_code == 200, service
        assert ready.json() == {"status": "ready", "checks": {"kafka": "ok", "mongodb": "ok"}}


async def test_conversation_data_is_never_cached_or_sniffed(pipeline: Pipeline) -> None:
    agent = await agent_of_its_own(pipeline)
    thread_id = await pipeline.new_thread(department=agent.departments[0])
    await pipeline.say(thread_id, f"I want to talk to a human {token()}")
    [ticket] = await agent.wait_for_ticket(thread_id, kind="conversation")
    answers = [
        await pipeline.ingest.get(f"/v1/threads/{thread_id}"),
        await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages"),
        await agent.get("/v1/tickets"),
        await agent.get(f"/v1/tickets/{ticket['ticket_id']}"),
        await agent.get(f"/v1/threads/{thread_id}/messages"),
        await agent.get("/v1/tickets/no-such-ticket"),
    ]
    for response in answers:
        where = response.request.url.path
        assert response.headers["content-type"].startswith("application/json"), where
        assert response.headers["x-content-type-options"] == "nosniff", where
        assert response.headers["cache-control"] == "no-store", where


async def test_dates_out_of_range_are_refused_with_422(pipeline: Pipeline) -> None:
    admin = {"Authorization": f"Bearer {pipeline.admin_token}"}
    for query in (
        "/v1/admin/labour?until=0001-01-01T00:00:00Z",
        "/v1/admin/labour?since=0001-01-01T00:00:00Z",
        "/v1/admin/labour?until=9999-12-31T23:59:59Z",
        "/v1/admin/labour?until=0.5",
        "/v1/admin/labour?since=2026-01-01",
        "/v1/admin/labour?since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z",
        "/v1/admin/feedback.jsonl?since=0001-01-01T00:00:00%2B14:00",
        "/v1/admin/feedback.jsonl?since=tomorrow",
    ):
        assert_error(await pipeline.queue.get(query, headers=admin), 422)
    ok = await pipeline.queue.get(
        "/v1/admin/labour?since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00%2B01:00",
        headers=admin,
    )
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("nul \x00 inside", "invalid_text"),
        ("bell \x07", "invalid_text"),
        ("escape \x1b[31m", "invalid_text"),
        ("c1 \x9b", "invalid_text"),
        # Refused while the body is parsed, before the queue sees it.
        ("lone \ud800 surrogate", "invalid_request"),
    ],
)
async def test_text_people_write_is_checked_strictly(
    pipeline: Pipeline, text: str, code: str
) -> None:
    agent = await agent_of_its_own(pipeline)
    thread_id = await pipeline.new_thread(department=agent.departments[0])
    await pipeline.say(thread_id, f"I want to talk to a human {token()}")
    [ticket] = await agent.wait_for_ticket(thread_id, kind="conversation")
    url = f"/v1/tickets/{ticket['ticket_id']}"
    await agent.act(ticket["ticket_id"], "claim")
    # JSON escapes (\\ud800) carry what UTF-8 cannot: a lone surrogate.
    body = json.dumps({"text": text}).encode()
    response = await agent.http.post(
        f"{url}/reply", content=body, headers={**agent.headers, "content-type": "application/json"}
    )
    assert_error(response, 422, code)
    # Tabs and line breaks are text; the thread takes the next reply as usual.
    ok = await agent.post(f"{url}/reply", {"text": "Line one\r\nline\ttwo"})
    assert ok.status_code == 200, ok.text


async def test_names_and_identifiers_are_bounded(pipeline: Pipeline) -> None:
    agent = await agent_of_its_own(pipeline)
    admin = {"Authorization": f"Bearer {pipeline.admin_token}"}
    for body in (
        {"name": "Eve\x00", "departments": ["billing"]},
        {"name": "Eve\nAdmin", "departments": ["billing"]},
        {"name": "Eve", "departments": ["x" * 101]},
        {"name": "Eve", "departments": ["bill\x00ing"]},
    ):
        assert_error(await pipeline.queue.post("/v1/admin/agents", json=body, headers=admin), 422)
    for path in (
        f"/v1/tickets/{'t' * 101}",
        "/v1/tickets/bad%00id",
        f"/v1/threads/{'t' * 129}/messages",
        "/v1/threads/bad%0Aid/ownership",
    ):
        assert_error(await agent.get(path), 422, "invalid_request")
    for query in ({"thread_id": "x" * 129}, {"department": "a\x00b"}, {"limit": 10_000}):
        assert_error(await agent.get("/v1/tickets", **query), 422, "invalid_request")


async def test_request_bodies_take_json_types_as_documented_without_coercion(
    pipeline: Pipeline,
) -> None:
    """A number where a flag belongs, or a string where a number does, is a mistake in the
    caller to report, not to guess at (found by fuzzing: `require_identity: 0` made a gateway)."""
    admin = {"Authorization": f"Bearer {pipeline.admin_token}"}
    gateway = {"name": "strict", "channels": ["web"], "may_set_routing": False}
    for flag in (0, "false", None):
        body = {**gateway, "require_identity": flag}
        created = await pipeline.ingest.post("/v1/admin/gateways", json=body, headers=admin)
        assert_error(created, 422, "invalid_request")
    thread_id = await pipeline.new_thread()
    said = await pipeline.ingest.post(
        f"/v1/threads/{thread_id}/messages", json={"text": "Hi", "respond": "no"}
    )
    assert_error(said, 422, "invalid_request")
    agent = await pipeline.queue.post(
        "/v1/admin/agents", json={"name": "Strict", "departments": "billing"}, headers=admin
    )
    assert_error(agent, 422, "invalid_request")
