"""The tools of an MCP server, over streamable HTTP.

The server's tools are listed at start. A server that cannot be reached then does not hold the
service up: it is logged, and listed again (at most every 30 s) while the toolbox is asked for
its tools. Each call opens its own session, so a restarted server or a dropped connection
costs one call at most.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from jsonschema import Draft202012Validator, SchemaError
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, PaginatedRequestParams, TextContent

from ..tools import Tool, ToolOutcome, tool_error
from .conditions import Approval
from .http import IDEMPOTENCY_KEY
from .spec import ToolSpec

log = logging.getLogger(__name__)

RETRY_AFTER_S = 30.0
MAX_PAGES = 20
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass(frozen=True)
class McpServer:
    """An MCP server as the tools file describes it."""

    name: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    include: frozenset[str] | None = None
    departments: frozenset[str] | None = None
    approval: Approval = field(default_factory=Approval)
    approvals: Mapping[str, Approval] = field(default_factory=dict)
    max_response_bytes: int = 16384

    @asynccontextmanager
    async def session(
        self, headers: Mapping[str, str] | None = None
    ) -> AsyncIterator[ClientSession]:
        """An initialized session, closed on leaving."""
        client = httpx.AsyncClient(
            headers={**self.headers, **(headers or {})}, timeout=httpx.Timeout(self.timeout_s)
        )
        async with (
            client,
            streamable_http_client(self.url, http_client=client) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


@dataclass(frozen=True, kw_only=True)
class McpTool(ToolSpec):
    """One tool of an MCP server."""

    server: McpServer

    async def call(self, arguments: Mapping[str, Any], *, idempotency_key: str) -> ToolOutcome:
        server = self.server
        try:
            async with (
                asyncio.timeout(server.timeout_s),
                server.session({IDEMPOTENCY_KEY: idempotency_key}) as session,
            ):
                result = await session.call_tool(
                    self.name,
                    dict(arguments),
                    read_timeout_seconds=timedelta(seconds=server.timeout_s),
                )
        except TimeoutError:
            return self._failed(f"{self.name} did not answer within {server.timeout_s:g} s")
        except Exception as exc:
            # Transport failures arrive as the SDK's errors or grouped by its task groups.
            return self._failed(f"{self.name} failed on {server.name}: {_describe(exc)}")
        text = _text(result)
        if result.isError:
            return self._failed(f"{self.name} failed", detail=text[:1000] or "no details")
        if len(text.encode()) > server.max_response_bytes:
            return self._failed(
                f"{self.name} answered with more than {server.max_response_bytes} bytes"
            )
        return ToolOutcome(ok=True, content=text)

    def _failed(self, message: str, *, detail: str | None = None) -> ToolOutcome:
        # The server's own words may echo what the customer wrote: the model reads them, the
        # log does not.
        log.warning("tool call failed: %s", message)
        return tool_error(f"{message}: {detail}" if detail else message)


def _text(result: CallToolResult) -> str:
    texts = [item.text for item in result.content if isinstance(item, TextContent)]
    if not texts and result.structuredContent is not None:
        return json.dumps(result.structuredContent, ensure_ascii=False)
    if len(texts) < len(result.content):
        texts.append(f"[{len(result.content) - len(texts)} non-text part(s) left out]")
    return "\n".join(texts)


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__} {exc}".strip()[:500]


class McpToolSource:
    """The tools one MCP server offers (those ``include`` keeps)."""

    def __init__(
        self,
        server: McpServer,
        *,
        reserved: Collection[str] = (),
        retry_after_s: float = RETRY_AFTER_S,
    ) -> None:
        self.server = server
        self._reserved = frozenset(reserved)
        self._retry_after_s = retry_after_s
        self._tools: list[Tool] | None = None
        self._next_attempt = 0.0
        self._listing: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._list()

    async def close(self) -> None:
        if self._listing is not None:
            self._listing.cancel()
            await asyncio.gather(self._listing, return_exceptions=True)

    def tools(self) -> Sequence[Tool]:
        if self._tools is None:
            self._list_again()
        return self._tools or []

    def _list_again(self) -> None:
        if self._listing is not None and not self._listing.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if loop.time() >= self._next_attempt:
            self._listing = loop.create_task(self._list())

    async def _list(self) -> None:
        server = self.server
        self._next_attempt = asyncio.get_running_loop().time() + self._retry_after_s
        try:
            async with asyncio.timeout(server.timeout_s), server.session() as session:
                found = []
                cursor: str | None = None
                for _ in range(MAX_PAGES):
                    params = PaginatedRequestParams(cursor=cursor) if cursor else None
                    page = await session.list_tools(params=params)
                    found.extend(page.tools)
                    cursor = page.nextCursor
                    if not cursor:
                        break
        except Exception as exc:
            log.warning(
                "MCP server %s (%s) could not be listed, trying again in %.0f s at the earliest: %s",
                server.name,
                server.url,
                self._retry_after_s,
                _describe(exc),
            )
            return
        self._tools = self._build(found)
        log.info(
            "MCP server %s offers %d tool(s): %s",
            server.name,
            len(self._tools),
            ", ".join(t.name for t in self._tools),
        )

    def _build(self, found: Sequence[Any]) -> list[Tool]:
        server = self.server
        tools: list[Tool] = []
        names = {t.name for t in found}
        for missing in sorted((server.include or set()) - names):
            log.warning("MCP server %s has no tool %s (in its include)", server.name, missing)
        for tool in found:
            if server.include is not None and tool.name not in server.include:
                continue
            problem = self._refusal(tool.name, tool.inputSchema)
            if problem:
                log.warning("MCP server %s: tool %s left out: %s", server.name, tool.name, problem)
                continue
            approval = server.approvals.get(tool.name, server.approval)
            if approval.condition is not None:
                unknown = _unknown_arguments(approval.condition.paths, tool.inputSchema)
                if unknown:
                    log.warning(
                        "MCP server %s: the approval of %s reads %s, which it does not take; "
                        "its calls will always need approval",
                        server.name,
                        tool.name,
                        ", ".join(unknown),
                    )
            tools.append(
                McpTool(
                    name=tool.name,
                    description=(tool.description or tool.title or tool.name).strip(),
                    parameters=tool.inputSchema,
                    approval=approval,
                    departments=server.departments,
                    server=server,
                )
            )
        return tools

    def _refusal(self, name: str, schema: Mapping[str, Any]) -> str | None:
        if not TOOL_NAME.match(name):
            return "its name is not one the model may call"
        if name in self._reserved:
            return "its name is taken"
        try:
            Draft202012Validator.check_schema(dict(schema))
        except SchemaError as exc:
            return f"its input schema is invalid: {exc.message}"
        return None


def _unknown_arguments(paths: Sequence[str], schema: Mapping[str, Any]) -> list[str]:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return []
    return [p for p in paths if p.split(".")[0] not in properties]
