"""``baton-agent approve-action`` and ``deny-action`` against a fake agent API: the
arguments they send, what they print, and what they refuse before calling."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from baton_agent_cli import CliError, Login, main, save_login
from baton_agent_cli.commands import edited_arguments

from .conftest import TOKEN, URL, FakeAgentApi, ticket

PROPOSED = {"order_id": "A-7", "amount": 40}
ACTION = {
    "tool_name": "refund",
    "description": "Refund an order.",
    "parameters": {"type": "object"},
    "arguments": PROPOSED,
    "approval_reason": "amount > 20",
}


def run(api: FakeAgentApi, config: Path, *argv: str) -> tuple[int, str, str]:
    save_login(Login(url=URL, token=TOKEN), config)
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, transport=api.transport)
    return code, out.getvalue(), err.getvalue()


def action_ticket(**fields: Any) -> dict[str, Any]:
    return ticket(kind="action", action=ACTION, **fields)


def test_set_values_are_json_when_they_parse_else_text() -> None:
    edited = edited_arguments(
        PROPOSED, None, ["amount=20", "note=half now", "urgent=true", "tags=[1]", "empty="]
    )
    assert edited == {
        "order_id": "A-7",
        "amount": 20,
        "note": "half now",
        "urgent": True,
        "tags": [1],
        "empty": "",
    }
    assert edited_arguments(PROPOSED, None, []) is None
    assert edited_arguments(PROPOSED, '{"order_id": "B"}', ["amount=1"]) == {
        "order_id": "B",
        "amount": 1,
    }


@pytest.mark.parametrize(
    ("arguments", "sets", "message"),
    [
        ("{not json", [], "--arguments is not JSON"),
        ("[1, 2]", [], "--arguments must be a JSON object"),
        (None, ["amount"], "--set takes KEY=VALUE"),
        (None, ["=3"], "--set takes KEY=VALUE"),
    ],
)
def test_malformed_edits_are_refused(arguments: str | None, sets: list[str], message: str) -> None:
    with pytest.raises(CliError, match=message):
        edited_arguments(PROPOSED, arguments, sets)


def test_approve_action_sets_on_top_of_the_proposal(api: FakeAgentApi, config: Path) -> None:
    api.answer("GET /v1/tickets/T1", {"ticket": action_ticket(), "ai": {}, "messages": []})
    api.answer("POST /v1/tickets/T1/approve-action", action_ticket(status="resolved"))

    code, out, err = run(api, config, "approve-action", "T1", "--set", "amount=20")

    assert (code, err) == (0, "")
    assert api.last_body() == {"arguments": {"order_id": "A-7", "amount": 20}}
    assert out == "approved the call of refund on T1 with your arguments; the AI runs it\n"


def test_approve_action_as_proposed_sends_no_arguments(api: FakeAgentApi, config: Path) -> None:
    api.answer("POST /v1/tickets/T1/approve-action", action_ticket(status="resolved"))

    code, out, _ = run(api, config, "approve-action", "T1")

    assert code == 0
    assert [r.method for r in api.requests] == ["POST"]
    assert api.last_body() == {}
    assert out == "approved the call of refund on T1; the AI runs it\n"


def test_deny_action_sends_the_reason(api: FakeAgentApi, config: Path) -> None:
    api.answer("POST /v1/tickets/T1/deny-action", action_ticket(status="resolved"))

    code, out, _ = run(api, config, "deny-action", "T1", "--reason", "finance decides")

    assert code == 0
    assert api.last_body() == {"reason": "finance decides"}
    assert out == "denied the call of refund on T1; the AI goes on without it\n"


def test_an_invalid_edit_prints_the_apis_sentence(api: FakeAgentApi, config: Path) -> None:
    detail = "the arguments do not match the tool's schema: at $.amount: 500 is too big"
    api.answer(
        "POST /v1/tickets/T1/approve-action",
        {"detail": detail, "code": "invalid_arguments"},
        status=422,
    )

    code, out, err = run(api, config, "approve-action", "T1", "--arguments", '{"amount": 500}')

    assert (code, out, err) == (1, "", f"error: {detail}\n")
