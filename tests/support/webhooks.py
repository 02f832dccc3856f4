"""A gateway's webhook endpoint for tests: served on a loopback port, it checks every
request's signature with the ``verify`` function docs/webhooks.md gives gateways, and answers as
each endpoint's script says."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Request, Response

from .serving import serving

WEBHOOK_DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
Verify = Callable[[str, Mapping[str, str], bytes], bool]
Answer = int | Literal["hang"]


def documented_verify() -> Verify:
    """The signature check as docs/webhooks.md shows it, run as it is written there."""
    blocks = re.findall(r"```python\n(.*?)```", WEBHOOK_DOCS.read_text(), flags=re.DOTALL)
    [snippet] = [b for b in blocks if "def verify(" in b]
    scope: dict[str, Any] = {}
    exec(snippet, scope)  # noqa: S102 - our own documentation, tested as written
    verify: Verify = scope["verify"]
    return verify


@dataclass(frozen=True)
class Seen:
    event_id: str
    event_type: str
    verified: bool
    event: dict[str, Any]


@dataclass
class Endpoint:
    """One gateway's endpoint: ``script`` answers requests in order (a status, or ``hang``
    until ``release`` is set), then 200."""

    secret: str = ""
    script: list[Answer] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    delivered: list[Seen] = field(default_factory=list)
    """Requests answered with a 2xx."""
    hanging: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def delivered_ids(self) -> list[str]:
        return [seen.event_id for seen in self.delivered]


class Receivers:
    def __init__(self) -> None:
        self.url = ""
        self.endpoints: dict[str, Endpoint] = {}
        self.verify = documented_verify()

    def endpoint(self, name: str) -> tuple[str, Endpoint]:
        """A new endpoint and its URL."""
        self.endpoints[name] = Endpoint()
        return f"{self.url}/hooks/{name}", self.endpoints[name]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hooks/{name}")
        async def hook(name: str, request: Request) -> Response:
            endpoint = self.endpoints[name]
            body = await request.body()
            seen = Seen(
                event_id=request.headers.get("Baton-Event-Id", ""),
                event_type=request.headers.get("Baton-Event-Type", ""),
                verified=self.verify(endpoint.secret, request.headers, body),
                event=json.loads(body),
            )
            endpoint.requests.append(seen)
            if not seen.verified:
                return Response(status_code=401)
            answer = endpoint.script.pop(0) if endpoint.script else 200
            if answer == "hang":
                endpoint.hanging += 1
                try:
                    await endpoint.release.wait()
                finally:
                    endpoint.hanging -= 1
                return Response(status_code=504)
            if 200 <= answer < 300:
                endpoint.delivered.append(seen)
            return Response(status_code=answer)

        return app


@asynccontextmanager
async def webhook_receivers() -> AsyncIterator[Receivers]:
    receivers = Receivers()
    async with serving(receivers.app()) as url:
        receivers.url = url
        try:
            yield receivers
        finally:
            for endpoint in receivers.endpoints.values():
                endpoint.release.set()
