"""Scripted rules and the engine that picks an answer: pure, no I/O.

Rules are tried in order and the first whose conditions all hold answers; a rule with
``times`` retires after that many answers. When none matches, the built-in defaults answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from .conversation import (
    Conversation,
    Decision,
    Failure,
    FunctionCallOut,
    Outcome,
    Stall,
    Text,
    ToolCalls,
)
from .defaults import default_decision
from .protocol import error_code_for, error_type_for, new_tool_call_id
from .schemas import in_schema_order


class ScriptError(ValueError):
    """A script (list of rules) that cannot be used, with the reason."""


class _Strict(BaseModel):
    # Unknown keys are refused so that a typo cannot silently widen a rule.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Match(_Strict):
    """Conditions on the request; all that are given must hold."""

    last_user: str | None = Field(
        default=None, description="Regex searched in the last user message."
    )
    any_message: str | None = Field(
        default=None, description="Regex searched in the content of every message."
    )
    system: str | None = Field(default=None, description="Regex searched in the system prompt.")
    schema_name: str | None = Field(
        default=None, alias="schema", description="Name of the requested json_schema."
    )
    has_tool_result: bool | None = Field(
        default=None, description="Whether the last message is a tool result."
    )
    tool_available: str | None = Field(default=None, description="A tool the request offers.")

    @field_validator("last_user", "any_message", "system")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regex {pattern!r}: {exc}") from exc
        return pattern

    def holds(self, conversation: Conversation) -> bool:
        if self.last_user is not None and not re.search(self.last_user, conversation.last_user):
            return False
        if self.any_message is not None and not any(
            re.search(self.any_message, text) for text in conversation.messages
        ):
            return False
        if self.system is not None and not re.search(self.system, conversation.system):
            return False
        if self.schema_name is not None and self.schema_name != conversation.schema_name:
            return False
        if (
            self.has_tool_result is not None
            and self.has_tool_result != conversation.last_is_tool_result
        ):
            return False
        return self.tool_available is None or self.tool_available in conversation.tools


class ScriptedToolCall(_Strict):
    name: str = Field(min_length=1)
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    id: str | None = None


class ScriptedError(_Strict):
    status: int = Field(default=500, ge=400, le=599)
    message: str = "scripted failure"
    type: str | None = None
    code: str | None = None


class Respond(_Strict):
    """What the rule answers; exactly one field is given."""

    content: str | None = None
    # ``json`` would shadow a (deprecated) BaseModel method, hence the alias.
    json_value: Any = Field(default=None, alias="json")
    tool_calls: list[ScriptedToolCall] | None = Field(default=None, min_length=1)
    error: ScriptedError | None = None
    timeout: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Respond:
        given = sorted(self.model_fields_set)
        if len(given) != 1:
            names = ", ".join("json" if name == "json_value" else name for name in given)
            raise ValueError(
                "respond needs exactly one of content, json, tool_calls, error, timeout"
                + (f" (got {names})" if names else "")
            )
        if "timeout" in given and self.timeout is not True:
            raise ValueError("respond.timeout can only be true")
        return self


class Rule(_Strict):
    name: str | None = None
    match: Match = Field(default_factory=Match)
    times: int | None = Field(default=None, ge=1, description="Answer at most this many times.")
    delay_ms: int = Field(
        default=0, ge=0, description="Waited before answering, on top of the latency."
    )
    latency_ms: int | None = Field(
        default=None,
        ge=0,
        description="The latency of the calls this rule answers, in place of the server's "
        "(its latency_ms and drawn latency); delay_ms still adds to it.",
    )
    tokens_per_s: float | None = Field(
        default=None,
        gt=0,
        description="Pace of the streamed answers this rule gives, in place of the server's.",
    )
    respond: Respond


_RULES = TypeAdapter(list[Rule])


def parse_rules(data: Any) -> list[Rule]:
    """Rules from a list of rules, from ``{"rules": [...]}`` or from a single rule."""
    if isinstance(data, Mapping):
        data = data["rules"] if set(data) == {"rules"} else [data] if "respond" in data else data
    if data is None:
        return []
    if not isinstance(data, list):
        raise ScriptError('a script is a list of rules, or an object {"rules": [...]}')
    try:
        return _RULES.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'rule'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        raise ScriptError(f"invalid rules: {problems}") from exc


_PLACEHOLDER = re.compile(r"\{(last_user|tool_result)\}")


def _fill(text: str, conversation: Conversation) -> str:
    values = {"last_user": conversation.last_user, "tool_result": conversation.tool_result or ""}
    return _PLACEHOLDER.sub(lambda found: values[found.group(1)], text)


def _fill_deep(value: Any, conversation: Conversation) -> Any:
    if isinstance(value, str):
        return _fill(value, conversation)
    if isinstance(value, list):
        return [_fill_deep(item, conversation) for item in value]
    if isinstance(value, dict):
        return {key: _fill_deep(item, conversation) for key, item in value.items()}
    return value


def render(respond: Respond, conversation: Conversation, new_call_id: Callable[[], str]) -> Outcome:
    """The outcome a rule's ``respond`` describes, with placeholders filled in."""
    if respond.content is not None:
        return Text(_fill(respond.content, conversation))
    if respond.tool_calls is not None:
        calls = []
        for call in respond.tool_calls:
            arguments = call.arguments
            encoded = (
                _fill(arguments, conversation)
                if isinstance(arguments, str)
                else json.dumps(_fill_deep(arguments, conversation), ensure_ascii=False)
            )
            calls.append(FunctionCallOut(call.id or new_call_id(), call.name, encoded))
        return ToolCalls(tuple(calls))
    if respond.error is not None:
        error = respond.error
        return Failure(
            status=error.status,
            message=_fill(error.message, conversation),
            type=error.type or error_type_for(error.status),
            code=error.code or error_code_for(error.status),
        )
    if respond.timeout:
        return Stall()
    value = in_schema_order(_fill_deep(respond.json_value, conversation), conversation.json_schema)
    return Text(json.dumps(value, ensure_ascii=False))


@dataclass
class _Entry:
    rule: Rule
    label: str
    used: int = 0

    @property
    def exhausted(self) -> bool:
        return self.rule.times is not None and self.used >= self.rule.times


class Script:
    """The scripted rules in force, in order, with how often each has answered."""

    def __init__(
        self, rules: Iterable[Rule] = (), *, new_call_id: Callable[[], str] = new_tool_call_id
    ) -> None:
        self._entries: list[_Entry] = []
        self._added = 0
        self._new_call_id = new_call_id
        self.add(rules)

    def add(self, rules: Iterable[Rule]) -> int:
        """Append rules after the current ones; returns how many rules there are now."""
        for rule in rules:
            self._added += 1
            self._entries.append(_Entry(rule, rule.name or f"rule#{self._added}"))
        return len(self._entries)

    def replace(self, rules: Iterable[Rule]) -> int:
        self._entries.clear()
        return self.add(rules)

    def reset(self) -> None:
        """Forget every scripted rule: only the built-in defaults answer."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "label": entry.label,
                "used": entry.used,
                "exhausted": entry.exhausted,
                "rule": entry.rule.model_dump(mode="json", by_alias=True, exclude_unset=True),
            }
            for entry in self._entries
        ]

    def decide(self, conversation: Conversation) -> Decision:
        """The first live matching rule's answer, else the default one."""
        for entry in self._entries:
            if entry.exhausted or not entry.rule.match.holds(conversation):
                continue
            entry.used += 1
            outcome = render(entry.rule.respond, conversation, self._new_call_id)
            return Decision(
                outcome,
                rule=entry.label,
                delay_ms=entry.rule.delay_ms,
                latency_ms=entry.rule.latency_ms,
                tokens_per_s=entry.rule.tokens_per_s,
            )
        return default_decision(conversation, self._new_call_id)
