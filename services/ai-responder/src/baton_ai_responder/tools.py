"""Tools the model may call.

``ask_human`` and ``escalate`` have no executor: calling them hands work to people (a
``tool.human_requested`` event). Every other tool is a :class:`Tool` in the
:class:`Toolbox`: the built-in ``current_time``, and those the tools file configures (HTTP
endpoints and the tools of MCP servers, see :mod:`.toolbox`). A configured tool's call may
need a person's approval before it runs (an ``action``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from openai.types.chat import ChatCompletionToolParam

ASK_HUMAN = "ask_human"
ESCALATE = "escalate"
HUMAN_TOOLS = frozenset({ASK_HUMAN, ESCALATE})

ASK_HUMAN_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": ASK_HUMAN,
        "description": (
            "Ask a human colleague a question you cannot answer yourself, such as the state "
            "of an order or whether an exception to a policy is allowed. The customer waits; "
            "the colleague's answer comes back as this tool's result."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "question": {"type": "string", "description": "A precise question."},
                "context": {
                    "type": "string",
                    "description": "What the colleague needs to know to answer.",
                },
            },
            "required": ["question", "context"],
            "additionalProperties": False,
        },
    },
}

ESCALATE_TOOL: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": ESCALATE,
        "description": (
            "Hand the whole conversation to a human support agent, for example when the "
            "customer is upset, asks for a person, or needs something only staff can do."
        ),
        "parameters": {
            "type": "object",
            "properties": {"reason": {"type": "string", "description": "Why a person is needed."}},
            "required": ["reason"],
            "additionalProperties": False,
        },
    },
}


@dataclass(frozen=True)
class ToolOutcome:
    """What a call of a tool came to. ``content`` is what the model reads as the result."""

    ok: bool
    content: str
    status_code: int | None = None
    """The HTTP status of the tool's answer, for an HTTP tool."""
    error: str | None = None
    """What went wrong, in a line (ok is False)."""


def tool_error(message: str, **fields: Any) -> ToolOutcome:
    """A failure, as the model reads it: a JSON object with ``error``."""
    return ToolOutcome(
        ok=False, content=json.dumps({"error": message}), error=message[:1000], **fields
    )


class Tool(Protocol):
    """A tool the model may call, other than the ones that hand work to people."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def parameters(self) -> Mapping[str, Any]:
        """The JSON Schema of the arguments."""
        ...

    @property
    def audited(self) -> bool:
        """Whether its calls are actions: recorded before and after they run, announced
        (``action.executed``) and sent with an idempotency key. The built-in
        ``current_time`` is not."""
        ...

    def available_to(self, department: str | None) -> bool:
        """Whether threads of ``department`` (None: none) may use it."""
        ...

    def invalid(self, arguments: Mapping[str, Any]) -> str | None:
        """Why ``arguments`` do not fit the schema, in a sentence; None when they do."""
        ...

    def approval_reason(self, arguments: Mapping[str, Any]) -> str | None:
        """Why a call with ``arguments`` needs a person's approval; None: it runs at once."""
        ...

    async def call(self, arguments: Mapping[str, Any], *, idempotency_key: str) -> ToolOutcome:
        """Run it. A failure, a timeout or an oversized answer is an outcome, not an
        exception: the model reads it as a tool error."""
        ...


class ToolSource(Protocol):
    """Tools found at start, such as an MCP server's."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    def tools(self) -> Sequence[Tool]: ...


class Toolbox:
    """The tools by name: fixed ones and those of sources found at start."""

    def __init__(self, tools: Iterable[Tool] = (), sources: Iterable[ToolSource] = ()) -> None:
        self._fixed = list(tools)
        self._sources = list(sources)
        self._check(self._fixed)

    async def start(self) -> None:
        for source in self._sources:
            await source.start()
        self._check(self._all())

    async def close(self) -> None:
        for source in self._sources:
            await source.close()

    def _all(self) -> list[Tool]:
        return [*self._fixed, *(t for s in self._sources for t in s.tools())]

    @staticmethod
    def _check(tools: Sequence[Tool]) -> None:
        names = [t.name for t in tools]
        taken = {n for n in names if n in HUMAN_TOOLS or names.count(n) > 1}
        if taken:
            raise ValueError(f"tool names defined twice or reserved: {sorted(taken)}")

    def action_names(self) -> list[str]:
        """The names of the tools whose calls are actions, the sources' as found so far."""
        return [t.name for t in self._all() if t.audited]

    def definitions(self, department: str | None) -> list[ChatCompletionToolParam]:
        """What the model is offered on a thread of ``department``."""
        return [
            ASK_HUMAN_TOOL,
            ESCALATE_TOOL,
            *(_definition(t) for t in self._all() if t.available_to(department)),
        ]

    def get(self, name: str, department: str | None) -> Tool | None:
        """The tool ``name`` as a thread of ``department`` may use it; None: no such tool
        for that thread."""
        for tool in self._all():
            if tool.name == name:
                return tool if tool.available_to(department) else None
        return None


def _definition(tool: Tool) -> ChatCompletionToolParam:
    return {
        "type": "function",
        "function": {
            "name": tool.name,
            "description": tool.description,
            "parameters": dict(tool.parameters),
        },
    }


@dataclass(frozen=True)
class CurrentTime:
    """The built-in clock: harmless, so never approved, recorded or announced."""

    name: str = "current_time"
    description: str = (
        "The current date and time (UTC), for questions about today, opening hours now, etc."
    )
    audited: bool = False

    @property
    def parameters(self) -> Mapping[str, Any]:
        return {"type": "object", "properties": {}, "additionalProperties": False}

    def available_to(self, department: str | None) -> bool:
        return True

    def invalid(self, arguments: Mapping[str, Any]) -> str | None:
        return None

    def approval_reason(self, arguments: Mapping[str, Any]) -> str | None:
        return None

    async def call(self, arguments: Mapping[str, Any], *, idempotency_key: str) -> ToolOutcome:
        return ToolOutcome(ok=True, content=datetime.now(UTC).isoformat(timespec="seconds"))


def default_toolbox() -> Toolbox:
    """The tools without a tools file: the clock."""
    return Toolbox([CurrentTime()])
