"""The HTTP surface: chat completions as the OpenAI API shapes them, errors, and the admin API."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from fastapi.testclient import TestClient

from baton_scripted_model import ScriptedModelSettings, ScriptError, create_app
from baton_scripted_model.__main__ import main

from .conftest import ASK_HUMAN_TOOL, REPLY_FORMAT, asked_then_answered, request, user


class Response(Protocol):
    """What the tests read of a TestClient response (whichever httpx flavour it comes from)."""

    @property
    def status_code(self) -> int: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def text(self) -> str: ...
    @property
    def elapsed(self) -> timedelta: ...
    def json(self, **kwargs: Any) -> Any: ...


def chat(client: TestClient, *messages: dict[str, Any], **options: Any) -> Response:
    return client.post("/v1/chat/completions", json=request(*messages, **options))


def ok(response: Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_openai_error(response: Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status
    error: dict[str, Any] = response.json()["error"]
    assert error["type"] == type_
    assert error["message"]
    assert {"message", "type", "param", "code"} <= set(error)
    return error


def test_plain_reply_is_a_chat_completion(client: TestClient) -> None:
    body = ok(chat(client, user("How long does shipping take?"), model="gpt-4o-mini"))
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-4o-mini"
    assert isinstance(body["created"], int)
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "stop"
    assert choice["message"]["role"] == "assistant"
    assert "business days" in choice["message"]["content"]
    assert "tool_calls" not in choice["message"]


def test_usage_is_estimated_and_positive(client: TestClient) -> None:
    short = ok(chat(client, user("Hi")))["usage"]
    long = ok(chat(client, user("Hi " + "a" * 400)))["usage"]
    for usage in (short, long):
        assert usage["prompt_tokens"] >= 1
        assert usage["completion_tokens"] >= 1
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert long["prompt_tokens"] >= short["prompt_tokens"] + 100


def test_tool_call_shape(client: TestClient) -> None:
    body = ok(chat(client, user("Where is order 4711?"), tools=[ASK_HUMAN_TOOL]))
    (choice,) = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    (call,) = message["tool_calls"]
    assert re.fullmatch(r"call_[0-9a-f]{24}", call["id"])
    assert call["type"] == "function"
    assert call["function"]["name"] == "ask_human"
    assert json.loads(call["function"]["arguments"])["context"] == "Where is order 4711?"
    assert body["usage"]["completion_tokens"] >= 1


def test_tool_result_continues_the_turn(client: TestClient) -> None:
    messages = asked_then_answered("Where is order 4711?", "It arrives on Friday.")
    body = ok(chat(client, *messages, tools=[ASK_HUMAN_TOOL]))
    assert "It arrives on Friday." in body["choices"][0]["message"]["content"]


def test_structured_output(client: TestClient) -> None:
    body = ok(chat(client, user("Do you take PayPal?"), response_format=REPLY_FORMAT))
    reply = json.loads(body["choices"][0]["message"]["content"])
    assert reply["requires_human"] is False
    assert "PayPal" in reply["reply"]


def test_content_parts_and_unknown_fields_are_accepted(client: TestClient) -> None:
    message = {"role": "user", "content": [{"type": "text", "text": "What are your hours?"}]}
    body = ok(chat(client, message, temperature=0.2, seed=1, metadata={"a": "b"}, n=1))
    assert "Monday" in body["choices"][0]["message"]["content"]


def test_scripted_rules_come_before_the_defaults(client: TestClient) -> None:
    rule = {"name": "refund", "match": {"last_user": "(?i)refund"}, "respond": {"content": "R!"}}
    assert client.post("/_script", json=[rule]).json() == {"added": 1, "rules": 1}
    body = ok(chat(client, user("I want a refund")))
    assert body["choices"][0]["message"]["content"] == "R!"
    assert ok(chat(client, user("Shipping?")))["choices"][0]["message"]["content"] != "R!"


def test_post_appends_put_replaces_delete_resets(client: TestClient) -> None:
    first = {"name": "one", "respond": {"content": "1"}}
    second = {"name": "two", "respond": {"content": "2"}}
    client.post("/_script", json={"rules": [first]})
    client.post("/_script", json={"rules": [second]})
    assert [r["label"] for r in client.get("/_script").json()["rules"]] == ["one", "two"]
    assert ok(chat(client, user("x")))["choices"][0]["message"]["content"] == "1"

    assert client.put("/_script", json=[second]).json() == {"rules": 1}
    assert ok(chat(client, user("x")))["choices"][0]["message"]["content"] == "2"

    assert client.delete("/_script").status_code == 200
    assert client.get("/_script").json() == {"rules": []}
    assert ok(chat(client, user("Hello")))["choices"][0]["message"]["content"].startswith("Hello!")


def test_bad_scripts_are_refused_with_an_openai_error(client: TestClient) -> None:
    response = client.post("/_script", json=[{"respond": {"content": "a", "timeout": True}}])
    assert (
        "exactly one of" in assert_openai_error(response, 400, "invalid_request_error")["message"]
    )
    response = client.put(
        "/_script", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert_openai_error(response, 400, "invalid_request_error")
    assert client.get("/_script").json() == {"rules": []}


@pytest.mark.parametrize(
    ("status", "type_", "code"),
    [
        (500, "server_error", None),
        (503, "server_error", "service_unavailable"),
        (429, "rate_limit_error", "rate_limit_exceeded"),
        (400, "invalid_request_error", None),
        (401, "authentication_error", None),
    ],
)
def test_error_rules_answer_with_status_and_openai_body(
    client: TestClient, status: int, type_: str, code: str | None
) -> None:
    client.put("/_script", json=[{"respond": {"error": {"status": status, "message": "scripted"}}}])
    response = chat(client, user("anything"))
    error = assert_openai_error(response, status, type_)
    assert error["message"] == "scripted"
    assert error["code"] == code
    if status in (429, 503):
        assert response.headers["retry-after"] == "0"


def test_error_rule_with_times_then_recovers(client: TestClient) -> None:
    client.put("/_script", json=[{"times": 1, "respond": {"error": {"status": 500}}}])
    assert chat(client, user("Hello")).status_code == 500
    assert chat(client, user("Hello")).status_code == 200


def test_timeout_rule_holds_the_request_then_gives_up(client: TestClient) -> None:
    client.put("/_script", json=[{"name": "stuck", "respond": {"timeout": True}}])
    response = chat(client, user("Hello"))
    assert_openai_error(response, 504, "timeout")
    (call,) = client.get("/_calls", params={"rule": "stuck"}).json()["calls"]
    assert call["outcome"] == "timeout"


def test_delay_ms_and_latency_are_applied() -> None:
    app = create_app(
        ScriptedModelSettings(latency_ms=20),
        script=[{"delay_ms": 30, "respond": {"content": "slow"}}],
    )
    client = TestClient(app)
    response = chat(client, user("x"))
    assert ok(response)["choices"][0]["message"]["content"] == "slow"
    # The applied delay is read from the call log, not timed: timing flakes on shared hosts.
    (call,) = client.get("/_calls").json()["calls"]
    assert call["delay_ms"] == 50


@pytest.mark.parametrize(
    "body",
    [
        {"messages": [{"role": "user", "content": "x"}]},
        {"model": "m", "messages": []},
        {"model": "m", "messages": [{"content": "no role"}]},
        [1, 2],
    ],
)
def test_invalid_requests_get_a_400(client: TestClient, body: Any) -> None:
    response = client.post("/v1/chat/completions", json=body)
    assert_openai_error(response, 400, "invalid_request_error")


def test_invalid_json_gets_a_400(client: TestClient) -> None:
    response = client.post(
        "/v1/chat/completions", content=b"{", headers={"content-type": "application/json"}
    )
    assert (
        "not valid JSON" in assert_openai_error(response, 400, "invalid_request_error")["message"]
    )


def test_unknown_routes_get_an_openai_404(client: TestClient) -> None:
    assert_openai_error(client.post("/v1/embeddings", json={}), 404, "not_found_error")


def test_calls_log_records_requests_and_the_answering_rule(client: TestClient) -> None:
    client.post(
        "/_script",
        json=[{"name": "vip", "match": {"last_user": "VIP"}, "respond": {"content": "hi"}}],
    )
    chat(client, user("I am a VIP customer"))
    chat(client, user("What are your hours?"))
    chat(client, user("Where is order 77?"), tools=[ASK_HUMAN_TOOL])

    calls = client.get("/_calls").json()["calls"]
    assert [c["rule"] for c in calls] == ["vip", "default:faq:opening_hours", "default:ask_human"]
    assert [c["outcome"] for c in calls] == ["content", "content", "tool_calls"]
    assert calls[0]["request"]["messages"][0]["content"] == "I am a VIP customer"
    assert calls[0]["response"]["choices"][0]["message"]["content"] == "hi"
    assert calls[0]["seq"] < calls[1]["seq"] < calls[2]["seq"]

    (found,) = client.get("/_calls", params={"contains": "order 77"}).json()["calls"]
    assert found["rule"] == "default:ask_human"
    assert (
        client.get("/_calls", params={"contains": "vip CUSTOMER"}).json()["calls"][0]["rule"]
        == "vip"
    )
    assert len(client.get("/_calls", params={"limit": 2}).json()["calls"]) == 2

    client.delete("/_calls")
    assert client.get("/_calls").json() == {"calls": []}


def test_calls_log_is_bounded() -> None:
    client = TestClient(create_app(ScriptedModelSettings(call_log_size=3)))
    for number in range(5):
        chat(client, user(f"message {number}"))
    calls = client.get("/_calls").json()["calls"]
    assert [c["request"]["messages"][0]["content"] for c in calls] == [
        "message 2",
        "message 3",
        "message 4",
    ]


def test_models_and_health(client: TestClient) -> None:
    models = client.get("/v1/models").json()
    assert models["object"] == "list"
    assert "gpt-4o-mini" in [m["id"] for m in models["data"]]
    assert client.get("/v1/models/any-name").json()["id"] == "any-name"
    assert client.get("/health").json()["status"] == "ok"


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRIPTED_MODEL_PORT", "9999")
    monkeypatch.setenv("SCRIPTED_MODEL_MODELS", "a, b")
    monkeypatch.setenv("SCRIPTED_MODEL_LATENCY_MS", "5")
    settings = ScriptedModelSettings()
    assert (settings.host, settings.port, settings.models, settings.latency_ms) == (
        "127.0.0.1",
        9999,
        ["a", "b"],
        5,
    )


def test_script_file_is_loaded_at_startup_before_given_rules(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(
        "rules:\n"
        "  - name: from-file\n"
        "    match: {last_user: '(?i)refund'}\n"
        "    respond:\n"
        "      json: {reply: 'Refund for: {last_user}', confidence: 0.5}\n"
    )
    app = create_app(
        ScriptedModelSettings(script=path), script=[{"name": "given", "respond": {"content": "g"}}]
    )
    client = TestClient(app)
    assert [r["label"] for r in client.get("/_script").json()["rules"]] == ["from-file", "given"]
    content = ok(chat(client, user("refund?")))["choices"][0]["message"]["content"]
    assert json.loads(content) == {"reply": "Refund for: refund?", "confidence": 0.5}


def test_json_script_files_work_and_bad_ones_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "script.json"
    good.write_text(json.dumps([{"respond": {"content": "j"}}]))
    assert ok(chat(TestClient(create_app(ScriptedModelSettings(script=good))), user("x")))
    bad = tmp_path / "bad.yaml"
    bad.write_text("- respond: {}\n")
    with pytest.raises(ScriptError, match=r"bad\.yaml"):
        create_app(ScriptedModelSettings(script=bad))
    with pytest.raises(ScriptError, match="cannot read"):
        create_app(ScriptedModelSettings(script=tmp_path / "missing.yaml"))


def test_main_refuses_a_bad_script(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="cannot read"):
        main(["--script", str(tmp_path / "missing.yaml"), "--port", "0"])
