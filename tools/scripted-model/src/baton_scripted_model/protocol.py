"""The Chat Completions wire format: what the server reads and what it writes back.

Requests are parsed leniently (unknown fields are kept and ignored) because real clients send
many options the scripted model has no use for; responses carry every field the OpenAI SDK
reads from a ``chat.completion`` object.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

JsonObject = dict[str, Any]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class FunctionCall(_Lenient):
    name: str
    arguments: str = ""


class MessageToolCall(_Lenient):
    id: str = ""
    type: str = "function"
    function: FunctionCall | None = None


class ChatMessage(_Lenient):
    role: str
    content: str | list[JsonObject] | None = None
    name: str | None = None
    tool_calls: list[MessageToolCall] | None = None
    tool_call_id: str | None = None

    def text(self) -> str:
        """The message's text; of a list of parts, the text parts joined by newlines."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        texts = [part["text"] for part in self.content if isinstance(part.get("text"), str)]
        return "\n".join(texts)


class FunctionDefinition(_Lenient):
    name: str
    description: str | None = None
    parameters: JsonObject | None = None


class ToolDefinition(_Lenient):
    type: str = "function"
    function: FunctionDefinition | None = None


class JsonSchemaFormat(_Lenient):
    name: str
    # ``schema`` would shadow a (deprecated) BaseModel attribute, hence the alias.
    json_schema: JsonObject | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Lenient):
    type: str
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Lenient):
    include_usage: bool | None = None


class ChatCompletionRequest(_Lenient):
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    tools: list[ToolDefinition] | None = None
    tool_choice: str | JsonObject | None = None
    response_format: ResponseFormat | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None

    @property
    def include_usage(self) -> bool:
        """Whether a streamed answer ends with a usage chunk."""
        return bool(self.stream_options is not None and self.stream_options.include_usage)


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def new_tool_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def estimate_tokens(text: str) -> int:
    """Roughly a token per four characters, and never zero, like real usage figures."""
    return max(1, math.ceil(len(text) / 4))


def prompt_text(request: ChatCompletionRequest) -> str:
    """Everything the prompt is made of, as text, for the usage estimate."""
    parts: list[str] = []
    for message in request.messages:
        parts.append(message.text())
        for call in message.tool_calls or ():
            if call.function is not None:
                parts.append(call.function.name + call.function.arguments)
    for tool in request.tools or ():
        parts.append(json.dumps(tool.model_dump(mode="json", exclude_none=True)))
    if request.response_format is not None:
        parts.append(json.dumps(request.response_format.model_dump(mode="json", by_alias=True)))
    return "".join(parts)


def completion_body(
    *,
    model: str,
    prompt: str,
    content: str | None,
    tool_calls: list[JsonObject] | None = None,
) -> JsonObject:
    """A ``chat.completion`` object with one choice."""
    message: JsonObject = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
        answered = "".join(
            call["function"]["name"] + call["function"]["arguments"] for call in tool_calls
        )
    else:
        answered = content or ""
    prompt_tokens = estimate_tokens(prompt)
    completion_tokens = estimate_tokens(answered)
    return {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_scripted",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def tool_call_body(call_id: str, name: str, arguments: str) -> JsonObject:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}

_ERROR_CODES = {429: "rate_limit_exceeded", 503: "service_unavailable"}


def error_type_for(status: int) -> str:
    return _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def error_code_for(status: int) -> str | None:
    return _ERROR_CODES.get(status)


def error_body(
    message: str, *, type_: str, code: str | None = None, param: str | None = None
) -> JsonObject:
    """The error envelope the OpenAI API uses, which the SDK turns into ``APIStatusError``."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
