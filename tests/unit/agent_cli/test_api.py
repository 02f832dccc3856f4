"""The agent API client: the agent's token on every request, and the API's errors as the
sentence the user reads."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from baton_agent_cli import Api, CliError, Login

from .conftest import TOKEN, URL, FakeAgentApi

LOGIN = Login(url=URL, token=TOKEN)


def test_requests_carry_the_token_and_leave_out_unset_parameters(api: FakeAgentApi) -> None:
    api.answer("GET /v1/tickets", {"tickets": []})
    with Api(LOGIN, transport=api.transport) as client:
        assert client.get("/v1/tickets", status="open", kind=None, limit=100) == {"tickets": []}

    [request] = api.requests
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert dict(request.url.params) == {"status": "open", "limit": "100"}


def test_a_post_sends_its_body_and_headers(api: FakeAgentApi) -> None:
    api.answer("POST /v1/tickets/T1/reply", {"message_id": "m1"})
    with Api(LOGIN, transport=api.transport) as client:
        client.post("/v1/tickets/T1/reply", {"text": "Hi"}, **{"Idempotency-Key": "k1"})

    assert api.last_body() == {"text": "Hi"}
    assert api.requests[-1].headers["Idempotency-Key"] == "k1"


def test_an_error_is_the_apis_detail(api: FakeAgentApi) -> None:
    api.answer(
        "POST /v1/tickets/T1/claim",
        {"detail": "ticket T1 is claimed by Bo", "code": "ticket_claimed"},
        status=409,
    )
    client = Api(LOGIN, transport=api.transport)
    with client, pytest.raises(CliError) as raised:
        client.post("/v1/tickets/T1/claim")
    assert str(raised.value) == "ticket T1 is claimed by Bo"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        # FastAPI's validation errors carry a list, not a sentence.
        (422, {"detail": [{"loc": ["body", "text"], "msg": "too short"}]}, "422 Unprocessable"),
        (502, None, "502 Bad Gateway"),
    ],
)
def test_an_error_without_a_sentence_is_its_status(status: int, body: Any, expected: str) -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, text="<html>bad gateway</html>")
        return httpx.Response(status, json=body)

    client = Api(LOGIN, transport=httpx.MockTransport(answer))
    with client, pytest.raises(CliError, match=f"^{expected}"):
        client.get("/v1/tickets")


def test_an_unreachable_server_is_named() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = Api(LOGIN, transport=httpx.MockTransport(refuse))
    with client, pytest.raises(CliError, match=rf"^cannot reach {URL}: connection refused$"):
        client.get("/v1/tickets")


def test_an_answer_that_is_not_an_object_is_an_error(api: FakeAgentApi) -> None:
    api.answer("GET /v1/tickets", ["T1"])
    client = Api(LOGIN, transport=api.transport)
    with (
        client,
        pytest.raises(CliError, match=r"^GET /v1/tickets: the answer is not a JSON object$"),
    ):
        client.get("/v1/tickets")
