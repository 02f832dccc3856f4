"""The real OpenAI SDK against the scripted model served over HTTP by uvicorn.

Needs neither Kafka nor MongoDB: only a free local port.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from openai.types.chat import (
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)
from pydantic import BaseModel

from baton_ai_responder.app import build_model
from baton_ai_responder.llm import Decisions
from baton_ai_responder.settings import Settings
from baton_scripted_model import ScriptedModelSettings, create_app

MODEL = "gpt-4o-mini"

ASK_HUMAN: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "ask_human",
        "description": "Ask a human support colleague for a fact only a person has.",
        "parameters": {
            "type": "object",
            "properties": {"question": {"type": "string"}, "context": {"type": "string"}},
            "required": ["question", "context"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


class Verdict(BaseModel):
    handler: str
    reason: str
    confidence: float


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The server's root URL; it runs in its own thread with its own event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(ScriptedModelSettings(port=port)),
        log_level="warning",
        ws="none",
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the scripted model did not start"
        assert time.monotonic() < deadline, "the scripted model did not start in time"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
async def admin(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        await client.delete("/_script")
        await client.delete("/_calls")
        yield client


@pytest.fixture(params=["httpx", "aiohttp"])
async def client(
    base_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[openai.AsyncOpenAI]:
    """The SDK on its default transport, and on the aiohttp one the ai-responder uses."""
    transport = openai.DefaultAioHttpClient() if request.param == "aiohttp" else None
    async with openai.AsyncOpenAI(
        base_url=f"{base_url}/v1", api_key="x", max_retries=0, timeout=10, http_client=transport
    ) as sdk:
        yield sdk


async def script(admin: httpx.AsyncClient, *rules: dict[str, Any]) -> None:
    response = await admin.put("/_script", json=list(rules))
    assert response.status_code == 200, response.text


async def calls(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await admin.get("/_calls")
    found: list[dict[str, Any]] = response.json()["calls"]
    return found


async def test_plain_reply(client: openai.AsyncOpenAI, admin: httpx.AsyncClient) -> None:
    completion = await client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "system", "content": "You are the Baton Demo Shop assistant."},
            {"role": "user", "content": "How long does shipping take?"},
        ],
        temperature=0.2,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop"
    assert choice.message.content is not None
    assert "business days" in choice.message.content
    assert completion.model == MODEL
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0
    assert completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    assert [call["rule"] for call in await calls(admin)] == ["default:faq:shipping"]


async def test_tool_call_then_tool_result_continues_the_turn(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient
) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "Has order 4711 left the warehouse?"}
    ]
    first = await client.chat.completions.create(model=MODEL, messages=messages, tools=[ASK_HUMAN])
    assert first.choices[0].finish_reason == "tool_calls"
    (call,) = first.choices[0].message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert call.id.startswith("call_")
    assert call.function.name == "ask_human"
    arguments = json.loads(call.function.arguments)
    assert arguments["context"] == "Has order 4711 left the warehouse?"
    assert arguments["question"]

    messages += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": "ask_human", "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "Yes, it shipped this morning."},
    ]
    second = await client.chat.completions.create(model=MODEL, messages=messages, tools=[ASK_HUMAN])
    assert second.choices[0].finish_reason == "stop"
    assert second.choices[0].message.tool_calls is None
    assert "Yes, it shipped this morning." in (second.choices[0].message.content or "")
    assert [c["rule"] for c in await calls(admin)] == ["default:ask_human", "default:tool_result"]


async def test_structured_output_with_a_json_schema(client: openai.AsyncOpenAI) -> None:
    completion = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "I want to speak to a manager!"}],
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": "route_classification",
                "strict": True,
                "schema": Verdict.model_json_schema(),
            },
        },
    )
    verdict = Verdict.model_validate_json(completion.choices[0].message.content or "")
    assert verdict.handler == "human"
    assert 0 < verdict.confidence <= 1


async def test_sdk_parse_with_a_scripted_answer_and_with_the_default(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient
) -> None:
    question: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Who answers?"}]
    default = await client.chat.completions.parse(
        model=MODEL, messages=question, response_format=Verdict
    )
    assert default.choices[0].message.parsed == Verdict(handler="", reason="", confidence=0)

    await script(
        admin,
        {
            "match": {"schema": "Verdict"},
            "respond": {"json": {"handler": "ai", "reason": "{last_user}", "confidence": 0.7}},
        },
    )
    scripted = await client.chat.completions.parse(
        model=MODEL, messages=question, response_format=Verdict
    )
    assert scripted.choices[0].message.parsed == Verdict(
        handler="ai", reason="Who answers?", confidence=0.7
    )


async def test_scripted_500_is_an_internal_server_error(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient
) -> None:
    await script(admin, {"respond": {"error": {"status": 500, "message": "scripted failure"}}})
    with pytest.raises(openai.InternalServerError) as raised:
        await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hello"}]
        )
    assert raised.value.status_code == 500
    assert "scripted failure" in raised.value.message


async def test_scripted_429_is_a_rate_limit_error(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient
) -> None:
    await script(admin, {"respond": {"error": {"status": 429, "message": "slow down"}}})
    with pytest.raises(openai.RateLimitError) as raised:
        await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hello"}]
        )
    assert raised.value.code == "rate_limit_exceeded"
    assert raised.value.response.headers["retry-after"] == "0"


async def test_the_sdk_retries_past_a_transient_error(
    base_url: str, admin: httpx.AsyncClient
) -> None:
    await script(admin, {"times": 1, "respond": {"error": {"status": 503}}})
    async with openai.AsyncOpenAI(base_url=f"{base_url}/v1", api_key="x", max_retries=1) as sdk:
        completion = await sdk.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hello"}]
        )
    assert completion.choices[0].message.content
    assert [call["status"] for call in await calls(admin)] == [503, 200]


async def test_timeout_rule_times_the_client_out(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient
) -> None:
    await script(admin, {"name": "stuck", "respond": {"timeout": True}})
    with pytest.raises(openai.APITimeoutError):
        await client.with_options(timeout=0.3).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hello"}]
        )

    # The server notices the client has gone and stops holding the request.
    deadline = time.monotonic() + 5
    while (await calls(admin))[-1]["status"] != 499:
        assert time.monotonic() < deadline, "the held request was not released"
        await asyncio.sleep(0.05)
    assert (await calls(admin))[-1]["rule"] == "stuck"


async def test_models_are_listed(client: openai.AsyncOpenAI) -> None:
    models = [model.id async for model in client.models.list()]
    assert MODEL in models


async def test_the_ai_responders_model_answers_and_closes_its_connections(
    base_url: str, admin: httpx.AsyncClient
) -> None:
    model = build_model(Settings(openai_base_url=f"{base_url}/v1", llm_max_attempts=1))

    completion = await model.complete(
        [{"role": "user", "content": "How long does shipping take?"}], []
    )
    await model.close()

    assert completion.reply is not None
    assert "business days" in completion.reply.reply
    assert [call["rule"] for call in await calls(admin)] == ["default:faq:shipping"]
    with pytest.raises(RuntimeError, match="client has been closed"):
        await model.complete([{"role": "user", "content": "Hello"}], [])


async def test_a_streamed_answer_reads_as_the_sdk_expects(
    client: openai.AsyncOpenAI, admin: httpx.AsyncClient
) -> None:
    text = 'He said "hi" 😀 and left.'
    await script(admin, {"name": "paced", "tokens_per_s": 500, "respond": {"content": text}})
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 6  # a token per four characters
    [call] = await calls(admin)
    assert (call["stream"], call["outcome"], call["tokens_per_s"]) == (True, "content", 500)


@dataclass
class Heard:
    """A reply listener that keeps what it hears."""

    attempts: int = 0
    decisions: list[Decisions | None] = field(default_factory=list)
    pieces: list[str] = field(default_factory=list)

    async def attempt(self) -> None:
        self.attempts += 1

    async def decided(self, decisions: Decisions | None) -> bool:
        self.decisions.append(decisions)
        return True

    def text(self, piece: str) -> None:
        self.pieces.append(piece)


async def test_the_ai_responders_model_streams_its_reply_to_a_listener(
    base_url: str, admin: httpx.AsyncClient
) -> None:
    model = build_model(Settings(openai_base_url=f"{base_url}/v1", llm_max_attempts=1))
    reply = 'Open 9 to 5 "CET" 😀\nBye.'
    decided_first = {"confidence": 0.8, "requires_human": False, "reason": None, "reply": reply}
    await script(
        admin,
        {
            "name": "decided-first",
            "match": {"last_user": "open"},
            "tokens_per_s": 400,
            "respond": {"json": decided_first},
        },
    )
    try:
        heard = Heard()
        completion = await model.complete(
            [{"role": "user", "content": "When are you open?"}], [], listener=heard
        )
        # The built-in answer: the scripted model writes the schema's order, decisions first.
        faq = Heard()
        answered = await model.complete(
            [{"role": "user", "content": "How long does shipping take?"}], [], listener=faq
        )
    finally:
        await model.close()

    assert completion.reply is not None
    assert completion.reply.reply == reply
    assert (heard.attempts, heard.decisions) == (1, [Decisions(0.8, False)])
    assert "".join(heard.pieces) == reply
    assert len(heard.pieces) > 3
    assert completion.usage.completion_tokens > 0
    assert answered.reply is not None
    assert faq.decisions == [Decisions(0.9, False)]
    assert "".join(faq.pieces) == answered.reply.reply
    assert {call["stream"] for call in await calls(admin)} == {True}
