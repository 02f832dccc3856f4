"""The model behind the AI: Chat Completions through the openai SDK, with bounded retries."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from baton_runtime import (
    LLM_CALLS,
    LLM_LATENCY_SECONDS,
    LlmPricing,
    ModelSlots,
    llm_outcome,
    record_llm_usage,
    start_llm_metrics,
)

log = logging.getLogger(__name__)

REPLY_SCHEMA_NAME = "assistant_reply"
CALLER = "responder"
start_llm_metrics(CALLER)


class AssistantReply(BaseModel):
    """The structured answer the model gives when it does not call a tool."""

    model_config = ConfigDict(extra="ignore")

    reply: str = Field(min_length=1)
    confidence: float = Field(ge=0, le=1)
    requires_human: bool = False
    reason: str | None = None


REPLY_FORMAT: ResponseFormatJSONSchema = {
    "type": "json_schema",
    "json_schema": {
        "name": REPLY_SCHEMA_NAME,
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "reply": {"type": "string", "description": "The message for the customer."},
                "confidence": {
                    "type": "number",
                    "description": "How sure you are the reply is right and complete, 0 to 1.",
                },
                "requires_human": {
                    "type": "boolean",
                    "description": "True when a person should take over this conversation.",
                },
                "reason": {
                    "type": ["string", "null"],
                    "description": "Why a person is needed, or why confidence is low.",
                },
            },
            "required": ["reply", "confidence", "requires_human", "reason"],
            "additionalProperties": False,
        },
    },
}


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
        )

    def as_dict(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class Completion:
    """One model answer: tool calls, or a structured reply."""

    model: str
    usage: Usage
    tool_calls: tuple[ToolCall, ...] = ()
    reply: AssistantReply | None = None
    latency_s: float = 0.0
    raw_content: str | None = field(default=None, repr=False)


class ModelUnavailableError(Exception):
    """The model failed every attempt (timeouts, 429, 5xx, or unusable output)."""


class ChatModel(Protocol):
    async def complete(
        self,
        messages: Sequence[ChatCompletionMessageParam],
        tools: Sequence[ChatCompletionToolParam],
    ) -> Completion: ...


class InvalidOutputError(Exception):
    pass


RETRYABLE = (
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
    InvalidOutputError,
)


class OpenAIChatModel:
    """Chat Completions with tools and the ``assistant_reply`` schema.

    The SDK's own retries are off (``max_retries=0``) so that this class alone decides:
    ``max_attempts`` tries with exponential backoff, then :class:`ModelUnavailableError`.
    At most ``max_concurrent`` calls are in flight at once: a burst of records is worked on
    concurrently, and the provider's rate limit should not turn it into hand-offs to
    people. Waiting for a slot does not count as the model's latency.
    """

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        *,
        model: str,
        max_attempts: int = 3,
        backoff_s: float = 0.5,
        max_concurrent: int = 32,
        pricing: LlmPricing | None = None,
    ) -> None:
        self._client = client
        self._slots = ModelSlots(CALLER, max_concurrent)
        self._model = model
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._pricing = pricing or LlmPricing()

    async def close(self) -> None:
        """Close the client's connections (at shutdown, once no call is in flight)."""
        await self._client.close()

    async def complete(
        self,
        messages: Sequence[ChatCompletionMessageParam],
        tools: Sequence[ChatCompletionToolParam],
    ) -> Completion:
        last_error = "no attempt made"
        for attempt in range(1, self._max_attempts + 1):
            try:
                async with self._slots.slot():
                    with LLM_LATENCY_SECONDS.labels(CALLER).time():
                        completion = await self._complete_once(messages, tools)
            except RETRYABLE as exc:
                LLM_CALLS.labels(CALLER, llm_outcome(exc)).inc()
                last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning(
                    "model call failed (attempt %d/%d): %s", attempt, self._max_attempts, last_error
                )
            except openai.APIStatusError as exc:
                # 4xx other than 429: the request itself is wrong; retrying cannot help.
                LLM_CALLS.labels(CALLER, llm_outcome(exc)).inc()
                raise ModelUnavailableError(f"{type(exc).__name__}: {exc}"[:500]) from exc
            else:
                LLM_CALLS.labels(CALLER, "ok").inc()
                record_llm_usage(
                    CALLER,
                    prompt_tokens=completion.usage.prompt_tokens,
                    completion_tokens=completion.usage.completion_tokens,
                    pricing=self._pricing,
                )
                return completion
            if attempt < self._max_attempts:
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        raise ModelUnavailableError(last_error)

    async def _complete_once(
        self,
        messages: Sequence[ChatCompletionMessageParam],
        tools: Sequence[ChatCompletionToolParam],
    ) -> Completion:
        loop = asyncio.get_running_loop()
        started = loop.time()
        body: dict[str, Any] = {
            "model": self._model,
            "messages": list(messages),
            "response_format": REPLY_FORMAT,
        }
        if tools:
            body["tools"] = list(tools)
        # The same request as chat.completions.create(), through the client's post(): create()
        # walks every parameter against the SDK's annotations for aliases Baton's parameters
        # do not have (decision 7). Transport, errors and the response model are the SDK's.
        response = await self._client.post("/chat/completions", cast_to=ChatCompletion, body=body)
        latency = loop.time() - started
        if not response.choices:
            raise InvalidOutputError("the model returned no choices")
        message = response.choices[0].message
        usage = Usage(
            response.usage.prompt_tokens if response.usage else 0,
            response.usage.completion_tokens if response.usage else 0,
        )
        if message.tool_calls:
            calls = []
            for call in message.tool_calls:
                if call.type != "function":
                    raise InvalidOutputError(f"unsupported tool call type {call.type!r}")
                try:
                    arguments = json.loads(call.function.arguments or "{}")
                except json.JSONDecodeError as exc:
                    raise InvalidOutputError(f"tool arguments are not JSON: {exc}") from exc
                if not isinstance(arguments, dict):
                    raise InvalidOutputError("tool arguments are not a JSON object")
                calls.append(ToolCall(call.id, call.function.name, arguments))
            return Completion(response.model, usage, tool_calls=tuple(calls), latency_s=latency)
        content = message.content or ""
        try:
            reply = AssistantReply.model_validate_json(content)
        except ValidationError as exc:
            raise InvalidOutputError(
                f"the reply does not match {REPLY_SCHEMA_NAME}: {exc}"
            ) from exc
        return Completion(
            response.model, usage, reply=reply, latency_s=latency, raw_content=content
        )
