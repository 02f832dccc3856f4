"""What a request says, reduced to the facts rules match on, and what an answer can be."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .protocol import ChatCompletionRequest

_SYSTEM_ROLES = frozenset({"system", "developer"})
_TOOL_ROLES = frozenset({"tool", "function"})


@dataclass(frozen=True)
class Conversation:
    """One Chat Completions request, as the rule engine sees it."""

    last_user: str = ""
    system: str = ""
    messages: tuple[str, ...] = ()
    tool_result: str | None = None
    last_is_tool_result: bool = False
    response_format: str | None = None
    schema_name: str | None = None
    json_schema: dict[str, Any] | None = None
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    forced_tool: str | None = None
    tool_required: bool = False

    @classmethod
    def from_request(cls, request: ChatCompletionRequest) -> Conversation:
        messages = request.messages
        users = [m.text() for m in messages if m.role == "user"]
        tool_results = [m.text() for m in messages if m.role in _TOOL_ROLES]
        choice = request.tool_choice
        # With ``tool_choice: "none"`` the tools are listed but may not be called.
        offered = choice != "none"
        tools = {
            tool.function.name: tool.function.parameters or {}
            for tool in request.tools or ()
            if offered and tool.function is not None
        }
        forced: str | None = None
        if isinstance(choice, dict):
            function = choice.get("function")
            if isinstance(function, dict) and isinstance(function.get("name"), str):
                forced = function["name"]
        response_format = request.response_format
        json_format = response_format.json_schema if response_format is not None else None
        return cls(
            last_user=users[-1] if users else "",
            system="\n".join(m.text() for m in messages if m.role in _SYSTEM_ROLES),
            messages=tuple(m.text() for m in messages),
            tool_result=tool_results[-1] if tool_results else None,
            last_is_tool_result=messages[-1].role in _TOOL_ROLES,
            response_format=response_format.type if response_format is not None else None,
            schema_name=json_format.name if json_format is not None else None,
            json_schema=json_format.json_schema if json_format is not None else None,
            tools=tools,
            forced_tool=forced if forced in tools else None,
            tool_required=choice == "required",
        )


@dataclass(frozen=True)
class Text:
    """An assistant message with this content."""

    content: str


@dataclass(frozen=True)
class FunctionCallOut:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolCalls:
    """An assistant message that calls tools."""

    calls: tuple[FunctionCallOut, ...]


@dataclass(frozen=True)
class Failure:
    """An HTTP error in the OpenAI error format."""

    status: int
    message: str
    type: str
    code: str | None = None


@dataclass(frozen=True)
class Stall:
    """No answer until the client gives up."""


Outcome = Text | ToolCalls | Failure | Stall


@dataclass(frozen=True)
class Decision:
    """The answer to one request, and which rule gave it."""

    outcome: Outcome
    rule: str
    delay_ms: int = 0
    latency_ms: int | None = None
    """The call's latency in place of the server's, when its rule fixes one."""
    tokens_per_s: float | None = None
    """The pace of a streamed answer in place of the server's, when its rule fixes one."""
