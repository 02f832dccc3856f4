"""Streamed answers (``"stream": true``): OpenAI's ``chat.completion.chunk`` events, paced."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openai.types.chat import ChatCompletionChunk

from baton_scripted_model import ScriptedModelSettings, create_app
from baton_scripted_model.protocol import completion_body
from baton_scripted_model.streaming import pieces, stream_chunks

from .conftest import ASK_HUMAN_TOOL, REPLY_FORMAT, request, user


def streamed(client: TestClient, *messages: dict[str, Any], **options: Any) -> list[Any]:
    """The data of each event of a streamed answer, ``[DONE]`` as the string it is."""
    with client.stream(
        "POST", "/v1/chat/completions", json=request(*messages, stream=True, **options)
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        body = response.read().decode()
    events = [block for block in body.split("\n\n") if block]
    assert all(block.startswith("data: ") for block in events), events
    datas = [block[len("data: ") :] for block in events]
    assert datas[-1] == "[DONE]"
    return [json.loads(data) for data in datas[:-1]] + ["[DONE]"]


def chunks_of(events: list[Any]) -> list[ChatCompletionChunk]:
    """Every chunk, read as the SDK reads it (which also checks its shape)."""
    return [ChatCompletionChunk.model_validate(event) for event in events[:-1]]


def scripted(*rules: dict[str, Any], **settings: Any) -> TestClient:
    return TestClient(create_app(ScriptedModelSettings(**settings), script=list(rules)))


def test_content_comes_a_token_at_a_time_and_adds_up_to_the_answer() -> None:
    client = scripted({"respond": {"content": 'Say "hi" — and the rest of it.'}})
    chunks = chunks_of(streamed(client, user("x")))
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    texts = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert "".join(t or "" for t in texts) == 'Say "hi" — and the rest of it.'
    assert all(t is not None and len(t) <= 4 for t in texts)
    assert [c.choices[0].finish_reason for c in chunks] == [None] * (len(chunks) - 1) + ["stop"]


def test_the_usage_chunk_comes_last_when_asked_for() -> None:
    client = scripted({"respond": {"content": "Twelve chars"}})
    without = streamed(client, user("x"))
    assert all("usage" not in event for event in without[:-1])
    events = streamed(client, user("x"), stream_options={"include_usage": True})
    *rest, last, done = events
    assert done == "[DONE]"
    assert last["choices"] == []
    assert last["usage"]["completion_tokens"] == 3
    assert last["usage"]["total_tokens"] == last["usage"]["prompt_tokens"] + 3
    assert all(event["usage"] is None for event in rest)


def test_tool_calls_stream_their_arguments_in_pieces() -> None:
    client = scripted(
        {
            "respond": {
                "tool_calls": [
                    {"name": "ask_human", "arguments": {"question": "Which order?"}},
                    {"name": "escalate", "id": "call_esc", "arguments": {"reason": "angry"}},
                ]
            }
        }
    )
    chunks = chunks_of(streamed(client, user("x"), tools=[ASK_HUMAN_TOOL]))
    assert all(c.choices[0].delta.content is None for c in chunks)
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for call in chunk.choices[0].delta.tool_calls or ():
            entry = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            entry["id"] += call.id or ""
            assert call.function is not None
            entry["name"] += call.function.name or ""
            entry["arguments"] += call.function.arguments or ""
    assert calls[1] == {"id": "call_esc", "name": "escalate", "arguments": '{"reason": "angry"}'}
    assert calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["arguments"]) == {"question": "Which order?"}
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_a_failing_rule_fails_before_any_chunk() -> None:
    client = scripted({"respond": {"error": {"status": 429, "message": "slow down"}}})
    response = client.post("/v1/chat/completions", json=request(user("x"), stream=True))
    assert response.status_code == 429
    assert response.json()["error"]["type"] == "rate_limit_error"


def decision_first() -> dict[str, Any]:
    """The reply format with its decision fields listed before the reply."""
    schema = REPLY_FORMAT["json_schema"]["schema"]
    return {
        **REPLY_FORMAT,
        "json_schema": {
            **REPLY_FORMAT["json_schema"],
            "schema": {
                **schema,
                "properties": {
                    name: schema["properties"][name]
                    for name in ("confidence", "requires_human", "reason", "reply")
                },
            },
        },
    }


def content_of(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_structured_replies_follow_the_schema_order() -> None:
    # A model under strict structured output writes the properties in the schema's order;
    # the responder puts its decision fields before the reply so that they arrive first.
    reply_first = {"reply": "Hi", "confidence": 0.9, "requires_human": False, "reason": None}
    client = scripted(
        {"match": {"last_user": "scripted"}, "respond": {"json": reply_first}},
        {"match": {"last_user": "raw"}, "respond": {"content": json.dumps(reply_first)}},
    )
    fields = ["confidence", "requires_human", "reason", "reply"]
    for asked in ("What are your opening hours?", "scripted"):
        chunks = chunks_of(streamed(client, user(asked), response_format=decision_first()))
        assert list(json.loads(content_of(chunks))) == fields, asked
    # Content is sent exactly as written: a model that puts the reply first.
    chunks = chunks_of(streamed(client, user("raw"), response_format=decision_first()))
    assert list(json.loads(content_of(chunks))) == ["reply", *fields[:-1]]


def test_chunks_are_paced_by_the_rule_or_else_by_the_server() -> None:
    body = completion_body(model="m", prompt="p", content="x" * 10)
    paced = stream_chunks(body, tokens_per_s=4, include_usage=True)
    # The role at once, three tokens a quarter of a second apart, then the end and usage.
    assert [t.at_s for t in paced] == [0.0, 0.25, 0.5, 0.75, 0.75, 0.75]
    assert {t.at_s for t in stream_chunks(body, tokens_per_s=0, include_usage=False)} == {0.0}
    assert pieces("abcdefghij") == ["abcd", "efgh", "ij"]


@pytest.mark.parametrize(("rule_rate", "expected"), [(None, 500.0), (800.0, 800.0)])
def test_the_call_log_shows_a_streamed_answer_and_its_pace(
    rule_rate: float | None, expected: float
) -> None:
    rule: dict[str, Any] = {"name": "r", "respond": {"content": "hi"}}
    if rule_rate is not None:
        rule["tokens_per_s"] = rule_rate
    client = scripted(rule, stream_tokens_per_s=500)
    streamed(client, user("x"))
    (call,) = client.get("/_calls").json()["calls"]
    assert (call["stream"], call["outcome"], call["status"]) == (True, "content", 200)
    assert call["tokens_per_s"] == expected
    assert call["response"]["choices"][0]["message"]["content"] == "hi"


def test_a_plain_request_is_answered_as_before(client: TestClient) -> None:
    response = client.post("/v1/chat/completions", json=request(user("Hello"), stream=False))
    assert response.json()["object"] == "chat.completion"
    (call,) = client.get("/_calls").json()["calls"]
    assert call["stream"] is False
