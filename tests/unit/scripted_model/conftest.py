"""Builders shared by the scripted model's unit tests."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from baton_scripted_model import Conversation, ScriptedModelSettings, create_app
from baton_scripted_model.protocol import ChatCompletionRequest

ASK_HUMAN_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "ask_human",
        "description": "Ask a human colleague a question.",
        "parameters": {
            "type": "object",
            "properties": {"question": {"type": "string"}, "context": {"type": "string"}},
            "required": ["question", "context"],
            "additionalProperties": False,
        },
    },
}

REPLY_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "assistant_reply",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "reply": {"type": "string"},
                "confidence": {"type": "number"},
                "requires_human": {"type": "boolean"},
                "reason": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
            "required": ["reply", "confidence", "requires_human", "reason"],
            "additionalProperties": False,
        },
    },
}

CLASSIFIER_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {
        "name": "route_classification",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "handler": {"type": "string", "enum": ["ai", "human"]},
                "reason": {"type": "string"},
                "confidence": {"type": "number"},
            },
            "required": ["handler", "reason", "confidence"],
            "additionalProperties": False,
        },
    },
}


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def request(*messages: dict[str, Any], **options: Any) -> dict[str, Any]:
    return {"model": "test-model", "messages": list(messages), **options}


def conversation(*messages: dict[str, Any], **options: Any) -> Conversation:
    return Conversation.from_request(
        ChatCompletionRequest.model_validate(request(*messages, **options))
    )


def asked_then_answered(question: str, answer: str) -> list[dict[str, Any]]:
    """A user question, the AI's ask_human call, and the human's answer as the tool result."""
    return [
        user(question),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "ask_human", "arguments": '{"question": "?"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": answer},
    ]


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(ScriptedModelSettings(timeout_seconds=0.05)))
