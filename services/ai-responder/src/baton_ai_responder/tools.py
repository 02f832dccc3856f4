"""Tools the model may call.

``ask_human`` and ``escalate`` have no executor: calling them hands work to people (a
``tool.human_requested`` event). Executable tools live in a :class:`ToolRegistry` and run
inside the turn; their docstrings are the descriptions the model reads.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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

ToolFunction = Callable[[dict[str, Any]], Awaitable[str]]


@dataclass(frozen=True)
class RegisteredTool:
    definition: ChatCompletionToolParam
    run: ToolFunction


class ToolRegistry:
    """Executable tools by name."""

    def __init__(self) -> None:
        self._tools: dict[str, RegisteredTool] = {}

    def register(
        self, name: str, description: str, parameters: dict[str, Any], run: ToolFunction
    ) -> None:
        if name in HUMAN_TOOLS or name in self._tools:
            raise ValueError(f"tool {name!r} is already defined")
        definition: ChatCompletionToolParam = {
            "type": "function",
            "function": {"name": name, "description": description, "parameters": parameters},
        }
        self._tools[name] = RegisteredTool(definition, run)

    def definitions(self) -> list[ChatCompletionToolParam]:
        return [ASK_HUMAN_TOOL, ESCALATE_TOOL, *(t.definition for t in self._tools.values())]

    async def run(self, name: str, arguments: dict[str, Any]) -> str:
        tool = self._tools.get(name)
        if tool is None:
            return json.dumps({"error": f"unknown tool {name!r}"})
        try:
            return await tool.run(arguments)
        except Exception as exc:  # a failing tool is reported to the model, not fatal
            return json.dumps({"error": f"{type(exc).__name__}: {exc}"})


async def current_time(_: dict[str, Any]) -> str:
    """The current date and time in UTC."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def default_registry() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(
        "current_time",
        "The current date and time (UTC), for questions about today, opening hours now, etc.",
        {"type": "object", "properties": {}, "additionalProperties": False},
        current_time,
    )
    return registry
