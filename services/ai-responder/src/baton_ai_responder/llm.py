"""The model behind the AI: Chat Completions through the openai SDK, with bounded retries."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import openai
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionChunk,
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
    model_call,
    record_llm_usage,
    start_llm_metrics,
)

from .replyjson import ReplyReader

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
            # The decision fields come before the reply: a model writes the properties in
            # this order, so a streamed reply's fields are known before its first word.
            "properties": {
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
                "reply": {"type": "string", "description": "The message for the customer."},
            },
            "required": ["confidence", "requires_human", "reason", "reply"],
            "additionalProperties": False,
        },
    },
}


@dataclass(frozen=True)
class Decisions:
    """What a structured reply says before its text: how sure the model is, and whether a
    person should take over."""

    confidence: float
    requires_human: bool

    @classmethod
    def of(cls, fields: dict[str, Any]) -> Decisions | None:
        """The decisions among a reply's fields read so far; None unless both are there
        and valid."""
        confidence, requires_human = fields.get("confidence"), fields.get("requires_human")
        if isinstance(confidence, bool) or not isinstance(confidence, int | float):
            return None
        if not 0 <= confidence <= 1 or not isinstance(requires_human, bool):
            return None
        return cls(float(confidence), requires_human)


class ReplyListener(Protocol):
    """Hears a structured reply while the model writes it; given one, the model streams."""

    async def attempt(self) -> None:
        """A model call begins: what an earlier attempt of this call streamed is superseded."""
        ...

    async def decided(self, decisions: Decisions | None) -> bool:
        """The reply's text begins, every field written before it is in (``None``: the
        decisions are not among them): whether to hear its text."""
        ...

    def text(self, piece: str) -> None:
        """The next piece of the reply's text, unescaped."""
        ...


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
        *,
        listener: ReplyListener | None = None,
    ) -> Completion:
        """The model's answer; with a ``listener``, a structured reply is streamed to it as
        it is written."""
        ...


class InvalidOutputError(Exception):
    pass


class StreamFailedError(Exception):
    """A streamed answer broke off with an error event."""


RETRYABLE = (
    openai.APITimeoutError,
    openai.APIConnectionError,
    openai.RateLimitError,
    openai.InternalServerError,
    InvalidOutputError,
    StreamFailedError,
)


T = TypeVar("T")


@dataclass(frozen=True)
class Answered(Generic[T]):
    """What one attempt of a model call gave: its value, and what to account for it."""

    value: T
    model: str
    usage: Usage


class ModelAttempts:
    """Bounded tries of one kind of model call (``caller``: the responder's replies, the
    summaries): ``max_attempts`` tries with exponential backoff, then
    :class:`ModelUnavailableError`; a 4xx other than 429 is not retried. At most
    ``max_concurrent`` calls are in flight at once: a burst of records is worked on
    concurrently, and the provider's rate limit should not turn it into hand-offs to
    people. Waiting for a slot does not count as the model's latency. Every attempt is
    counted, timed, traced and its tokens accounted under ``caller``."""

    def __init__(
        self,
        caller: str,
        *,
        model: str,
        max_attempts: int = 3,
        backoff_s: float = 0.5,
        max_concurrent: int = 32,
        pricing: LlmPricing | None = None,
    ) -> None:
        self._caller = caller
        self._slots = ModelSlots(caller, max_concurrent)
        self.model = model
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._pricing = pricing or LlmPricing()

    async def run(
        self,
        attempt_once: Callable[[], Awaitable[Answered[T]]],
        *,
        before_each: Callable[[], Awaitable[None]] | None = None,
    ) -> T:
        caller = self._caller
        last_error = "no attempt made"
        for attempt in range(1, self._max_attempts + 1):
            if before_each is not None:
                await before_each()
            try:
                async with self._slots.slot():
                    with (
                        LLM_LATENCY_SECONDS.labels(caller).time(),
                        model_call(model=self.model, caller=caller) as call,
                    ):
                        answered = await attempt_once()
                        call.answered(
                            model=answered.model,
                            input_tokens=answered.usage.prompt_tokens,
                            output_tokens=answered.usage.completion_tokens,
                        )
            except RETRYABLE as exc:
                LLM_CALLS.labels(caller, llm_outcome(exc)).inc()
                last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning(
                    "%s call failed (attempt %d/%d): %s",
                    caller,
                    attempt,
                    self._max_attempts,
                    last_error,
                )
            except openai.APIError as exc:
                # A 4xx other than 429, or an answer the SDK cannot read: the request itself
                # is wrong, and retrying cannot help.
                LLM_CALLS.labels(caller, llm_outcome(exc)).inc()
                raise ModelUnavailableError(f"{type(exc).__name__}: {exc}"[:500]) from exc
            else:
                LLM_CALLS.labels(caller, "ok").inc()
                record_llm_usage(
                    caller,
                    prompt_tokens=answered.usage.prompt_tokens,
                    completion_tokens=answered.usage.completion_tokens,
                    pricing=self._pricing,
                )
                return answered.value
            if attempt < self._max_attempts:
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        raise ModelUnavailableError(last_error)


class OpenAICalls:
    """One kind of model call through the SDK's client (``caller`` names it in the metrics),
    tried as :class:`ModelAttempts` says. The client's own retries are off
    (``max_retries=0``) so that these alone decide."""

    caller: ClassVar[str]

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
        self._model = model
        self._attempts = ModelAttempts(
            self.caller,
            model=model,
            max_attempts=max_attempts,
            backoff_s=backoff_s,
            max_concurrent=max_concurrent,
            pricing=pricing,
        )


class OpenAIChatModel(OpenAICalls):
    """Chat Completions with tools and the ``assistant_reply`` schema."""

    caller = CALLER

    async def close(self) -> None:
        """Close the client's connections (at shutdown, once no call is in flight)."""
        await self._client.close()

    async def complete(
        self,
        messages: Sequence[ChatCompletionMessageParam],
        tools: Sequence[ChatCompletionToolParam],
        *,
        listener: ReplyListener | None = None,
    ) -> Completion:
        async def once() -> Answered[Completion]:
            completion = await self._complete_once(messages, tools, listener)
            return Answered(completion, completion.model, completion.usage)

        return await self._attempts.run(
            once, before_each=listener.attempt if listener is not None else None
        )

    async def _complete_once(
        self,
        messages: Sequence[ChatCompletionMessageParam],
        tools: Sequence[ChatCompletionToolParam],
        listener: ReplyListener | None = None,
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
        if listener is not None:
            return await self._stream_once(body, listener, started)
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
        calls = []
        for call in message.tool_calls or ():
            if call.type != "function":
                raise InvalidOutputError(f"unsupported tool call type {call.type!r}")
            calls.append((call.id, call.function.name, call.function.arguments))
        return _answer(response.model, usage, latency, message.content or "", calls)

    async def _stream_once(
        self, body: dict[str, Any], listener: ReplyListener, started: float
    ) -> Completion:
        """The same request, streamed (``stream_cls`` as ``create(stream=True)`` passes it):
        the reply's decision fields, then its text, go to ``listener`` as they arrive. A
        call whose first output is a tool call tells the listener nothing."""
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        stream = await self._client.post(
            "/chat/completions",
            cast_to=ChatCompletion,
            body=body,
            stream=True,
            stream_cls=openai.AsyncStream[ChatCompletionChunk],
        )
        model, usage, content = self._model, Usage(), []
        calls: dict[int, list[str]] = {}  # by index: id, name, arguments
        reader = ReplyReader()
        hearing: bool | None = None  # whether the listener hears the text; None: not asked
        try:
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta
                for part in delta.tool_calls or ():
                    call = calls.setdefault(part.index, ["", "", ""])
                    call[0] += part.id or ""
                    if part.function is not None:
                        call[1] += part.function.name or ""
                        call[2] += part.function.arguments or ""
                if not delta.content:
                    continue
                content.append(delta.content)
                if calls:
                    continue  # a step that calls tools streams nothing
                text = reader.feed(delta.content)
                if reader.started and hearing is None:
                    hearing = await listener.decided(Decisions.of(reader.fields))
                if hearing and text:
                    listener.text(text)
        except openai.APIError as exc:
            if isinstance(exc, (*RETRYABLE, openai.APIStatusError)):
                raise
            raise StreamFailedError(str(exc)) from exc  # an error event in the stream
        finally:
            await stream.close()
        latency = asyncio.get_running_loop().time() - started
        listed = [(call[0], call[1], call[2]) for _, call in sorted(calls.items())]
        return _answer(model, usage, latency, "".join(content), listed)


def _answer(
    model: str,
    usage: Usage,
    latency: float,
    content: str,
    calls: Sequence[tuple[str, str, str]],
) -> Completion:
    """The completion of a call's output: its tool calls (id, name, JSON arguments), or
    else its content as a structured reply."""
    if calls:
        parsed = []
        for call_id, name, raw in calls:
            try:
                arguments = json.loads(raw or "{}")
            except json.JSONDecodeError as exc:
                raise InvalidOutputError(f"tool arguments are not JSON: {exc}") from exc
            if not isinstance(arguments, dict):
                raise InvalidOutputError("tool arguments are not a JSON object")
            parsed.append(ToolCall(call_id, name, arguments))
        return Completion(model, usage, tool_calls=tuple(parsed), latency_s=latency)
    try:
        reply = AssistantReply.model_validate_json(content)
    except ValidationError as exc:
        raise InvalidOutputError(f"the reply does not match {REPLY_SCHEMA_NAME}: {exc}") from exc
    return Completion(model, usage, reply=reply, latency_s=latency, raw_content=content)
