"""Talking to the human-queue API as agents and as the admin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from .waiting import eventually


@dataclass(frozen=True)
class AgentClient:
    """One human agent: its identity, its token, and requests signed with it."""

    http: httpx.AsyncClient
    agent_id: str
    name: str
    departments: tuple[str, ...]
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.headers)

    async def post(
        self, path: str, body: Any = None, *, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.http.post(path, json=body, headers={**self.headers, **(headers or {})})

    async def act(self, ticket_id: str, action: str, body: Any = None) -> dict[str, Any]:
        """POST an action that must succeed; returns the JSON body."""
        response = await self.post(f"/v1/tickets/{ticket_id}/{action}", body)
        assert response.status_code == 200, f"{action}: {response.status_code} {response.text}"
        result: dict[str, Any] = response.json()
        return result

    async def ticket(self, ticket_id: str) -> dict[str, Any]:
        response = await self.get(f"/v1/tickets/{ticket_id}")
        assert response.status_code == 200, response.text
        detail: dict[str, Any] = response.json()
        return detail

    async def tickets(self, **filters: Any) -> list[dict[str, Any]]:
        response = await self.get("/v1/tickets", **filters)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["tickets"]
        return found

    async def wait_for_ticket(
        self, thread_id: str, *, kind: str | None = None, count: int = 1, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """The thread's open tickets (of ``kind``), once there are ``count`` of them."""
        filters: dict[str, Any] = {"thread_id": thread_id}
        if kind is not None:
            filters["kind"] = kind

        async def probe() -> list[dict[str, Any]] | None:
            found = await self.tickets(**filters)
            return found if len(found) >= count else None

        return await eventually(probe, timeout=timeout, what=f"{count} {kind or ''} ticket(s)")


def department() -> str:
    """A department name of one test's own, so its tickets are invisible to other tests."""
    return f"dept-{uuid.uuid4().hex[:8]}"


async def new_agent(
    http: httpx.AsyncClient, admin_token: str, name: str, *departments: str
) -> AgentClient:
    response = await http.post(
        "/v1/admin/agents",
        json={"name": name, "departments": list(departments)},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return AgentClient(
        http=http,
        agent_id=body["agent_id"],
        name=body["name"],
        departments=tuple(body["departments"]),
        token=body["token"],
    )


def token() -> str:
    """A unique word that ties a scripted model rule to one test's messages."""
    return f"tok{uuid.uuid4().hex[:10]}"


def reply_rule(tok: str, reply: str, confidence: float = 0.95, **match: Any) -> dict[str, Any]:
    """A scripted-model rule: answer messages containing ``tok`` with ``reply``."""
    return {
        "name": f"reply-{tok}-{uuid.uuid4().hex[:6]}",
        "match": {"last_user": tok, "schema": "assistant_reply", **match},
        "respond": {
            "json": {
                "reply": reply,
                "confidence": confidence,
                "requires_human": False,
                "reason": None,
            }
        },
    }
