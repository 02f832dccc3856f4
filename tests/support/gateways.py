"""Gateways in integration tests: the admin token's header, a gateway with a client that
sends its key, and refusals in the API's shape."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from .pipeline import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass
class Gw:
    """A gateway made for one test, with a client that sends its key."""

    body: dict[str, Any]
    http: httpx.AsyncClient

    @property
    def gateway_id(self) -> str:
        gateway_id: str = self.body["gateway_id"]
        return gateway_id

    async def thread(self, user_id: str | None = None, **fields: Any) -> str:
        body = {"user_id": user_id or f"user-{uuid.uuid4().hex[:8]}", **fields}
        response = await self.http.post("/v1/threads", json=body)
        assert response.status_code == 201, response.text
        thread_id: str = response.json()["thread_id"]
        return thread_id


def refused(response: httpx.Response, status: int, code: str) -> str:
    """Assert a refusal in the API's shape; its detail."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    detail: str = body["detail"]
    return detail
