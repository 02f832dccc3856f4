"""HTTP tools: one endpoint per tool, its URL fixed by the tools file.

The model chooses only values. A URL template may hold ``{name}`` placeholders as whole path
segments or whole query values, never in the scheme, host or port; each value is
percent-encoded as one piece, so ``/``, ``?``, ``#``, ``@`` or ``..`` in an argument can never
change the host or the shape of the path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import httpx

from ..tools import Tool, ToolOutcome, tool_error
from .spec import ToolSpec

log = logging.getLogger(__name__)

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
IDEMPOTENCY_KEY = "Idempotency-Key"
MAX_ERROR_SNIPPET = 300

_ORIGIN = re.compile(r"^(https?)://([^/?#]*)(.*)$", re.DOTALL)
_PLACEHOLDER = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_BRACES = re.compile(r"[{}]")
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Placeholder:
    name: str


Part = str | Placeholder


def _part(text: str, where: str) -> Part:
    match = _PLACEHOLDER.match(text)
    if match:
        return Placeholder(match.group(1))
    if _BRACES.search(text):
        raise ValueError(
            f"a placeholder must be a whole {where} such as /{{order_id}} or ?id={{order_id}}: "
            f"{text!r}"
        )
    return text


@dataclass(frozen=True)
class UrlTemplate:
    """``scheme://host[:port]/segment/{name}?key={name}``, parsed once at load."""

    origin: str
    segments: tuple[Part, ...]
    query: tuple[tuple[str, Part], ...]

    @classmethod
    def parse(cls, text: str) -> UrlTemplate:
        """The template, or ValueError when it would let the model move the request."""
        if _UNSAFE.search(text):
            raise ValueError("the url has spaces or control characters")
        match = _ORIGIN.match(text)
        if match is None:
            raise ValueError("the url must start with http:// or https:// and a host")
        scheme, authority, rest = match.groups()
        if not authority or _BRACES.search(authority):
            raise ValueError(
                "the scheme, host and port must be written out: placeholders go only in "
                "path segments and query values"
            )
        if "#" in rest:
            raise ValueError("the url must not have a fragment (#)")
        path, _, query = rest.partition("?")
        segments = tuple(_part(s, "path segment") for s in path.split("/")[1:]) if path else ()
        pairs: list[tuple[str, Part]] = []
        for item in query.split("&") if query else ():
            key, _, value = item.partition("=")
            if not key or _BRACES.search(key):
                raise ValueError(f"a query key must be written out: {item!r}")
            pairs.append((key, _part(value, "query value")))
        return cls(origin=f"{scheme}://{authority}", segments=segments, query=tuple(pairs))

    @property
    def names(self) -> frozenset[str]:
        parts = [*self.segments, *(value for _, value in self.query)]
        return frozenset(p.name for p in parts if isinstance(p, Placeholder))

    def render(self, arguments: Mapping[str, Any], extra: Sequence[tuple[str, Any]] = ()) -> str:
        """The URL for ``arguments`` (ValueError: a value that cannot go in it)."""
        path = "".join(f"/{self._segment(p, arguments)}" for p in self.segments)
        pairs = [
            key if value == "" else f"{key}={self._value(value, arguments)}"
            for key, value in self.query
        ]
        for key, value in extra:
            for item in value if isinstance(value, list) else [value]:
                pairs.append(f"{quote(key, safe='')}={quote(_text(item), safe='')}")
        return self.origin + path + (f"?{'&'.join(pairs)}" if pairs else "")

    @staticmethod
    def _segment(part: Part, arguments: Mapping[str, Any]) -> str:
        if isinstance(part, str):
            return part
        text = _text(_argument(part.name, arguments))
        # These would add, remove or climb a path segment once a server reads the path.
        if text in ("", ".", ".."):
            raise ValueError(f"{part.name} cannot be {text!r} in the url's path")
        return quote(text, safe="")

    @staticmethod
    def _value(part: Part, arguments: Mapping[str, Any]) -> str:
        if isinstance(part, str):
            return part
        return quote(_text(_argument(part.name, arguments)), safe="")


def _argument(name: str, arguments: Mapping[str, Any]) -> Any:
    if name not in arguments or arguments[name] is None:
        raise ValueError(f"the url needs the argument {name}")
    return arguments[name]


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class HttpEndpoint:
    """How a tool's call becomes a request."""

    method: Method
    url: UrlTemplate
    query: tuple[str, ...] = ()
    """Arguments sent as query parameters (when given)."""
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 10.0
    response_fields: tuple[str, ...] | None = None
    max_response_bytes: int = 16384

    def request(self, arguments: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """The URL and the JSON body (None: no body) for ``arguments``."""
        extra = [(name, arguments[name]) for name in self.query if arguments.get(name) is not None]
        url = self.url.render(arguments, extra)
        if self.method not in BODY_METHODS:
            return url, None
        used = self.url.names | set(self.query)
        return url, {k: v for k, v in arguments.items() if k not in used}


class _TooLargeError(Exception):
    pass


@dataclass(frozen=True, kw_only=True)
class HttpTool(ToolSpec):
    """A tool that calls one HTTP endpoint through the toolbox's shared client."""

    endpoint: HttpEndpoint
    client: httpx.AsyncClient = field(repr=False, compare=False)

    async def call(self, arguments: Mapping[str, Any], *, idempotency_key: str) -> ToolOutcome:
        endpoint = self.endpoint
        try:
            url, body = endpoint.request(arguments)
        except ValueError as exc:
            return tool_error(f"{self.name}: {exc}")
        # An uncompressed answer, so the size limit holds for what is held in memory.
        headers = {**endpoint.headers, "Accept-Encoding": "identity"}
        headers[IDEMPOTENCY_KEY] = idempotency_key
        started = time.monotonic()
        try:
            async with asyncio.timeout(endpoint.timeout_s):
                status, raw, charset = await self._send(url, body, headers)
        except (TimeoutError, httpx.TimeoutException):
            return self._failed(f"{self.name} did not answer within {endpoint.timeout_s:g} s")
        except _TooLargeError:
            return self._failed(
                f"{self.name} answered with more than {endpoint.max_response_bytes} bytes"
            )
        except httpx.ConnectError as exc:
            return self._failed(f"{self.name} could not be reached: {exc}")
        except httpx.HTTPError as exc:
            return self._failed(f"{self.name} failed: {type(exc).__name__} {exc}")
        text = _decode(raw, charset)
        log.info(
            "tool %s answered HTTP %s in %.0f ms",
            self.name,
            status,
            (time.monotonic() - started) * 1000,
        )
        if status >= 400:
            return self._failed(
                f"{self.name} answered HTTP {status}", status, detail=text[:MAX_ERROR_SNIPPET]
            )
        if status >= 300:
            return self._failed(f"{self.name} answered a redirect ({status}), not followed", status)
        if endpoint.response_fields is None:
            return ToolOutcome(ok=True, content=text, status_code=status)
        try:
            answer = json.loads(text)
        except ValueError:
            return self._failed(f"{self.name} answered something other than JSON", status)
        if not isinstance(answer, dict):
            return self._failed(f"{self.name} answered JSON that is not an object", status)
        picked = json.dumps(pick(answer, endpoint.response_fields), ensure_ascii=False)
        return ToolOutcome(
            ok=True, content=picked[: endpoint.max_response_bytes], status_code=status
        )

    async def _send(
        self, url: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> tuple[int, bytes, str | None]:
        limit = self.endpoint.max_response_bytes
        async with self.client.stream(
            self.endpoint.method,
            url,
            json=body,
            headers=headers,
            timeout=self.endpoint.timeout_s,
            follow_redirects=False,
        ) as response:
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _TooLargeError
            received = bytearray()
            # Read no more than the limit allows, whatever the server sends.
            async for chunk in response.aiter_bytes():
                received += chunk
                if len(received) > limit:
                    raise _TooLargeError
            return response.status_code, bytes(received), response.charset_encoding

    def _failed(
        self, message: str, status_code: int | None = None, *, detail: str | None = None
    ) -> ToolOutcome:
        # The endpoint's own words may echo what the customer wrote: the model reads them,
        # the log does not.
        log.warning("tool call failed: %s", message)
        return tool_error(f"{message}: {detail}" if detail else message, status_code=status_code)


def _decode(raw: bytes, charset: str | None) -> str:
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def pick(answer: Mapping[str, Any], paths: Sequence[str]) -> dict[str, Any]:
    """The dotted ``paths`` of ``answer``, nested as in it; missing ones are left out."""
    picked: dict[str, Any] = {}
    for path in paths:
        names = path.split(".")
        value: Any = answer
        for name in names:
            if not isinstance(value, Mapping) or name not in value:
                break
            value = value[name]
        else:
            target = picked
            for name in names[:-1]:
                target = target.setdefault(name, {})
            target[names[-1]] = value
    return picked


class HttpToolSource:
    """The file's HTTP tools and the one client they share (closed with the toolbox)."""

    def __init__(self, tools: Sequence[tuple[ToolSpec, HttpEndpoint]]) -> None:
        self._client = httpx.AsyncClient(follow_redirects=False)
        self._tools: list[Tool] = [
            HttpTool(
                name=spec.name,
                description=spec.description,
                parameters=spec.parameters,
                approval=spec.approval,
                departments=spec.departments,
                endpoint=endpoint,
                client=self._client,
            )
            for spec, endpoint in tools
        ]

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        await self._client.aclose()

    def tools(self) -> Sequence[Tool]:
        return self._tools
