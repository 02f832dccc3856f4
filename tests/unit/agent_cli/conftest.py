"""A fake agent API behind ``httpx.MockTransport``, and a shell with no login of its own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

URL = "http://queue.test"
TOKEN = "bq_alex"

Answer = tuple[int, Any]


@dataclass
class FakeAgentApi:
    """Answers each ``METHOD path`` with a status and a JSON body; records every request."""

    answers: dict[str, Answer] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def answer(self, route: str, body: Any, status: int = 200) -> None:
        self.answers[route] = (status, body)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = f"{request.method} {request.url.raw_path.decode().split('?')[0]}"
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return httpx.Response(
                401,
                json={"detail": "the bearer token is not a valid agent token", "code": "auth"},
            )
        if route not in self.answers:
            return httpx.Response(404, json={"detail": "Not Found"})
        status, body = self.answers[route]
        return httpx.Response(status, json=body)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def last_body(self) -> Any:
        return json.loads(self.requests[-1].content) if self.requests[-1].content else None


@pytest.fixture
def api() -> FakeAgentApi:
    return FakeAgentApi()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The login file of this test's shell; no login comes from the real environment."""
    path = tmp_path / "config" / "baton" / "agent.json"
    for name in ("BATON_AGENT_URL", "BATON_AGENT_TOKEN", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BATON_AGENT_CONFIG", str(path))
    return path


def ticket(**fields: Any) -> dict[str, Any]:
    """A ticket as the agent API returns it, open and unclaimed unless ``fields`` say otherwise."""
    return {
        "ticket_id": "T1",
        "kind": "question",
        "status": "pending",
        "priority": 20,
        "department": "billing",
        "thread_id": "th-1",
        "reason": None,
        "question": "Is the Berlin store open on Sunday?",
        "context": "Berlin",
        "suggestion": None,
        "confidence": None,
        "draft_text": None,
        "assigned_agent": None,
        "lease_expires_at": None,
        "sla_due_at": "2025-03-01T12:30:00+00:00",
        "sla_breached": False,
        "first_response_at": None,
        "resolution": None,
        "created_at": "2025-03-01T12:00:00+00:00",
        "resolved_at": None,
    } | fields
