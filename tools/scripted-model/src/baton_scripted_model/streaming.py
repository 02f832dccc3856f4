"""Streamed answers (``"stream": true``): the ``chat.completion.chunk`` objects a real endpoint
sends as server-sent events, and when each goes out. Pure: the app does the waiting.

A real model writes a token at a time, a few dozen a second, after a first-token latency.
Here a token is four characters of the answer, the same measure the usage estimate uses;
pieces are cut from the answer's text as it is sent, so a JSON escape (``\\"``, ``\\u00e9``)
may be split between two chunks, as a real tokenizer may split one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .protocol import JsonObject

CHARS_PER_TOKEN = 4
DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True)
class Timed:
    """A chunk and when it goes out, in seconds after the first one."""

    at_s: float
    chunk: JsonObject


def pieces(text: str, size: int = CHARS_PER_TOKEN) -> list[str]:
    """``text`` cut into pieces of ``size`` characters (the last one shorter)."""
    return [text[start : start + size] for start in range(0, len(text), size)]


def stream_chunks(
    completion: JsonObject, *, tokens_per_s: float, include_usage: bool
) -> list[Timed]:
    """The chunks of the ``chat.completion`` object ``completion`` (as
    :func:`~baton_scripted_model.protocol.completion_body` makes it), each with when it is
    sent: the role first, then a token every ``1 / tokens_per_s`` seconds (all at once
    when 0), the chunk with the ``finish_reason``, and with ``include_usage`` the usage
    chunk (no choices) last. With ``include_usage`` every chunk carries ``usage: null``
    but the last, as OpenAI's do."""
    choice = completion["choices"][0]
    message = choice["message"]
    head = {key: completion[key] for key in ("id", "created", "model", "system_fingerprint")}
    head["object"] = "chat.completion.chunk"

    def chunk(delta: JsonObject, finish_reason: str | None = None) -> JsonObject:
        body: JsonObject = {
            **head,
            "choices": [
                {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            ],
        }
        if include_usage:
            body["usage"] = None
        return body

    deltas = list(_token_deltas(message))
    step = 1 / tokens_per_s if tokens_per_s > 0 else 0.0
    first = {"role": "assistant", "content": "" if message.get("content") else None}
    timed = [Timed(0.0, chunk({**first, "refusal": None}))]
    timed += [Timed(step * n, chunk(delta)) for n, delta in enumerate(deltas, start=1)]
    end = step * len(deltas)
    timed.append(Timed(end, chunk({}, choice["finish_reason"])))
    if include_usage:
        timed.append(Timed(end, {**head, "choices": [], "usage": completion["usage"]}))
    return timed


def _token_deltas(message: JsonObject) -> Iterator[JsonObject]:
    """The deltas that carry the answer, a token each: content pieces, or for each tool
    call its id, type and name, then its arguments piece by piece."""
    for piece in pieces(message.get("content") or ""):
        yield {"content": piece}
    for index, call in enumerate(message.get("tool_calls") or ()):
        function = call["function"]
        yield {
            "tool_calls": [
                {
                    "index": index,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": function["name"], "arguments": ""},
                }
            ]
        }
        for piece in pieces(function["arguments"]):
            yield {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}


def sse(chunk: Any) -> bytes:
    """One server-sent event carrying ``chunk`` as JSON."""
    return b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n"
