"""Thread history to model messages, free of I/O."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from openai.types.chat import ChatCompletionMessageParam

from baton_conversations import Message

NOTICE_PROVIDER = "baton"
"""The provider of the human queue's notices to the user."""


def _tool_call_parts(message: Message) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return []
    return [p for p in message.content if p.get("type") == "tool-call"]


def _tool_result_parts(message: Message) -> list[dict[str, Any]]:
    if isinstance(message.content, str):
        return []
    return [p for p in message.content if p.get("type") == "tool-result"]


def with_question(history: Sequence[Message], question: Message | None) -> list[Message]:
    """``history`` with the message being answered in it.

    When a thread's later messages pushed that message out of the window (a backlog of
    replies still to be written), it is put last, where the model looks for the question;
    the window keeps its size."""
    if question is None or any(m.message_id == question.message_id for m in history):
        return list(history)
    return [*history[1:], question] if history else [question]


def build_context(
    system_prompt: str,
    history: Sequence[Message],
    *,
    extra_instructions: Sequence[str] = (),
) -> list[ChatCompletionMessageParam]:
    """The model's view of a thread.

    Left out: drafts not approved (the user never saw them), tool calls whose results
    have not arrived yet (the API refuses a call without its result; the pending question
    is still open with a person), and Baton's notices to the user (provider ``baton``:
    "Alex has joined", "let me check with a colleague"), which are not the AI's words and
    may stand between a tool call and its result.
    """
    answered = {part["tool_call_id"] for m in history for part in _tool_result_parts(m)}
    messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": system_prompt}]
    for instruction in extra_instructions:
        messages.append({"role": "system", "content": instruction})
    emitted_calls: set[str] = set()
    for message in history:
        if message.provider == NOTICE_PROVIDER:
            continue
        if message.role == "user":
            messages.append({"role": "user", "content": message.text})
        elif message.role == "assistant":
            calls = _tool_call_parts(message)
            if calls:
                if not all(c["tool_call_id"] in answered for c in calls):
                    continue
                messages.append(
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": c["tool_call_id"],
                                "type": "function",
                                "function": {
                                    "name": c["tool_name"],
                                    "arguments": json.dumps(c.get("args", {})),
                                },
                            }
                            for c in calls
                        ],
                    }
                )
                emitted_calls.update(c["tool_call_id"] for c in calls)
            elif message.status in (None, "approved"):
                name = (message.agent_name or "")[:64]
                entry: ChatCompletionMessageParam = {"role": "assistant", "content": message.text}
                if message.provider == "human" and name:
                    entry = {
                        "role": "assistant",
                        "content": f"[{name}, support agent] {message.text}",
                    }
                messages.append(entry)
        elif message.role == "tool":
            for part in _tool_result_parts(message):
                if part["tool_call_id"] in emitted_calls:
                    messages.append(
                        {
                            "role": "tool",
                            "tool_call_id": part["tool_call_id"],
                            "content": str(part.get("result", "")),
                        }
                    )
    return messages
