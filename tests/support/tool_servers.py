"""Real tool servers on loopback ports, for the AI's configured tools.

``tool_server()`` is an HTTP endpoint that records every request and applies a side effect
once per ``Idempotency-Key`` (as the tools docs ask of tool owners); ``mcp_tool_server()`` is
an MCP server built with the SDK's FastMCP, served over streamable HTTP.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from mcp.server.fastmcp import Context, FastMCP
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.serving import serving

KEY = "idempotency-key"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    """As sent, percent-encoding kept (``/v1/orders/..%2Fadmin`` is one segment)."""
    query: str
    """The raw query string."""
    headers: dict[str, str]
    """Lower-case names."""
    json: Any
    """The JSON body; None without one."""

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get(KEY)


@dataclass
class ToolServer:
    """An HTTP tool endpoint. Change its knobs between calls to shape the next answers."""

    url: str = ""
    calls: list[RecordedRequest] = field(default_factory=list)
    effects: dict[str, int] = field(default_factory=dict)
    """Side effects applied per Idempotency-Key (a request without one counts under "")."""
    dedupe: bool = True
    """Apply a repeated key's effect once (as tool owners should); False: every time."""
    delay_s: float = 0.0
    """Wait this long before answering."""
    fail_status: int | None = None
    """Answer every request with this status, applying nothing."""
    answer: Any = None
    """The JSON to answer; None: a description of the request and its effect."""
    raw_answer: bytes | None = None
    """Bytes to answer instead of JSON (an oversized or malformed answer)."""
    in_flight: int = 0
    """Requests received and not yet answered."""

    def effects_of(self, key: str) -> int:
        return self.effects.get(key, 0)

    async def _handle(self, request: Request) -> Response:
        body = await request.body()
        recorded = RecordedRequest(
            method=request.method,
            path=request.scope["raw_path"].decode("latin-1"),
            query=request.scope["query_string"].decode("latin-1"),
            headers={k.lower(): v for k, v in request.headers.items()},
            json=json.loads(body) if body else None,
        )
        self.calls.append(recorded)
        self.in_flight += 1
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if self.fail_status is not None:
            return JSONResponse({"error": "the tool failed"}, status_code=self.fail_status)
        key = recorded.idempotency_key or ""
        repeated = self.dedupe and key in self.effects
        if not repeated:
            self.effects[key] = self.effects.get(key, 0) + 1
        if self.raw_answer is not None:
            # Streamed without a length, so a client must count what it reads.
            raw = self.raw_answer
            chunks = (raw[i : i + 1024] for i in range(0, len(raw), 1024))
            return StreamingResponse(chunks, media_type="application/octet-stream")
        if self.answer is not None:
            return JSONResponse(self.answer)
        return JSONResponse(
            {
                "method": recorded.method,
                "path": recorded.path,
                "json": recorded.json,
                "effect": "repeated" if repeated else "applied",
            }
        )


@asynccontextmanager
async def tool_server() -> AsyncIterator[ToolServer]:
    """An HTTP tool server answering every path and method."""
    server = ToolServer()
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    app = Starlette(routes=[Route("/{path:path}", server._handle, methods=methods)])
    async with serving(app) as url:
        server.url = url
        yield server


@dataclass(frozen=True)
class RecordedToolCall:
    tool: str
    arguments: dict[str, Any]
    idempotency_key: str | None


@dataclass
class McpToolServer:
    """An MCP server with ``create_refund`` (records, applies once per key) and
    ``close_account`` (for filtering: include only the first)."""

    url: str = ""
    """The streamable HTTP endpoint (``.../mcp``)."""
    calls: list[RecordedToolCall] = field(default_factory=list)
    effects: dict[str, int] = field(default_factory=dict)
    delay_s: float = 0.0
    answer_padding: int = 0
    """Characters added to create_refund's answer (an oversized answer)."""
    fail: bool = False
    """create_refund raises (the result is an error)."""

    def build(self) -> FastMCP:
        server = FastMCP("shop")

        @server.tool()
        async def create_refund(order_id: str, amount: float, ctx: Context) -> str:  # type: ignore[type-arg]
            """Refund an amount of an order to the customer."""
            return await self._refund(order_id, amount, ctx)

        @server.tool()
        async def close_account(customer_id: str) -> str:
            """Close a customer's account for good."""
            self.calls.append(RecordedToolCall("close_account", {"customer_id": customer_id}, None))
            return "closed"

        return server

    async def _refund(self, order_id: str, amount: float, ctx: Context) -> str:  # type: ignore[type-arg]
        request = ctx.request_context.request
        key = request.headers.get(KEY) if isinstance(request, Request) else None
        self.calls.append(
            RecordedToolCall("create_refund", {"order_id": order_id, "amount": amount}, key)
        )
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail:
            raise ValueError(f"order {order_id} cannot be refunded")
        if (key or "") not in self.effects:
            self.effects[key or ""] = 1
        return f"refunded {amount:g} on order {order_id}" + "x" * self.answer_padding


@asynccontextmanager
async def mcp_tool_server(*, port: int | None = None) -> AsyncIterator[McpToolServer]:
    """A FastMCP server on a loopback port (a fresh one each time: its session manager runs
    once)."""
    server = McpToolServer()
    async with serving(server.build().streamable_http_app(), port=port) as url:
        server.url = f"{url}/mcp"
        yield server
