"""``baton-agent``'s commands against a fake agent API: what each sends, prints and exits with."""

from __future__ import annotations

import io
import json
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from baton_agent_cli import Login, main, save_login

from .conftest import TOKEN, URL, FakeAgentApi, ticket

ME = {"agent_id": "a1", "name": "Alex", "departments": ["billing", "support"]}


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


Agent = Callable[..., Run]


@pytest.fixture
def agent(api: FakeAgentApi, config: Path) -> Agent:
    """Run ``baton-agent`` as an agent who has signed in."""
    save_login(Login(url=URL, token=TOKEN), config)

    def run(*argv: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), out=out, err=err, transport=api.transport)
        return Run(code, out.getvalue(), err.getvalue())

    return run


def test_login_checks_the_token_then_saves_it_privately(api: FakeAgentApi, config: Path) -> None:
    api.answer("GET /console/me", ME)
    out = io.StringIO()
    code = main(["login", "--url", f"{URL}/", "--token", TOKEN], out=out, transport=api.transport)

    assert code == 0
    assert out.getvalue().splitlines() == [
        f"signed in as Alex (billing, support) at {URL}",
        f"saved to {config}",
    ]
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text()) == {"url": URL, "token": TOKEN}


def test_login_reads_the_token_from_standard_input(
    api: FakeAgentApi, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.answer("GET /console/me", ME)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{TOKEN}\n"))
    out = io.StringIO()
    code = main(["login", "--url", URL, "--token", "-", "--json"], out=out, transport=api.transport)

    assert code == 0
    assert json.loads(out.getvalue()) == ME
    assert json.loads(config.read_text())["token"] == TOKEN


def test_a_wrong_token_is_refused_and_not_saved(api: FakeAgentApi, config: Path) -> None:
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["login", "--url", URL, "--token", "bq_wrong"], out=out, err=err, transport=api.transport
    )

    assert (code, out.getvalue()) == (1, "")
    assert err.getvalue() == "error: the bearer token is not a valid agent token\n"
    assert not config.exists()


def test_a_command_before_login_says_to_sign_in(api: FakeAgentApi, config: Path) -> None:
    err = io.StringIO()
    assert main(["queue"], err=err, transport=api.transport) == 1
    assert err.getvalue().startswith("error: not signed in")
    assert api.requests == []


def test_the_environment_signs_a_script_in_without_a_file(
    api: FakeAgentApi, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATON_AGENT_URL", URL)
    monkeypatch.setenv("BATON_AGENT_TOKEN", TOKEN)
    api.answer("GET /v1/tickets", {"tickets": []})
    out = io.StringIO()
    assert main(["queue"], out=out, transport=api.transport) == 0
    assert out.getvalue() == "no tickets\n"
    assert not config.exists()


def test_the_queue_asks_for_open_tickets_unless_told_otherwise(
    agent: Agent, api: FakeAgentApi
) -> None:
    api.answer("GET /v1/tickets", {"tickets": [ticket()]})
    run = agent("queue")
    assert run.code == 0, run.err
    assert run.out.splitlines()[0].split() == [
        "ID",
        "KIND",
        "PRI",
        "STATUS",
        "DEPARTMENT",
        "WAITING",
        "SLA",
        "HOLDER",
        "SUMMARY",
    ]
    assert dict(api.requests[-1].url.params) == {"status": "open", "limit": "100"}

    agent("queue", "--status", "all", "--kind", "approval", "--department", "billing")
    assert dict(api.requests[-1].url.params) == {
        "status": "all",
        "kind": "approval",
        "department": "billing",
        "limit": "100",
    }


def test_json_prints_the_apis_answer(agent: Agent, api: FakeAgentApi) -> None:
    answer = {"tickets": [ticket(question="Geöffnet?")]}
    api.answer("GET /v1/tickets", answer)
    run = agent("queue", "--json")
    assert json.loads(run.out) == answer
    assert "Geöffnet?" in run.out


def test_claim_and_release_say_what_happened(agent: Agent, api: FakeAgentApi) -> None:
    lease = "2025-03-01T12:20:00+00:00"
    api.answer("POST /v1/tickets/T1/claim", ticket(lease_expires_at=lease))
    api.answer("POST /v1/tickets/T1/release", ticket())

    claimed = agent("claim", "T1")
    local = f"{datetime.fromisoformat(lease).astimezone():%H:%M:%S}"
    assert claimed.out == f"claimed T1 until {local}\n"
    assert agent("release", "T1").out == "released T1; it is back in the queue\n"


def test_a_ticket_id_cannot_reach_another_path(agent: Agent, api: FakeAgentApi) -> None:
    api.answer("POST /v1/tickets/a%2F..%2Fb/claim", ticket(ticket_id="a/../b"))
    assert agent("claim", "a/../b").out == "claimed a/../b\n"


def test_a_reply_with_an_idempotency_key(agent: Agent, api: FakeAgentApi) -> None:
    api.answer("POST /v1/tickets/T1/reply", {"message_id": "m-1", "ticket": ticket()})
    run = agent("reply", "T1", "Hi, Alex here.", "--idempotency-key", "k1")

    assert run.out == "replied on T1: m-1\n"
    assert api.last_body() == {"text": "Hi, Alex here."}
    assert api.requests[-1].headers["Idempotency-Key"] == "k1"
    agent("reply", "T1", "Again")
    assert "Idempotency-Key" not in api.requests[-1].headers


def test_an_answer_from_standard_input(
    agent: Agent, api: FakeAgentApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.answer("POST /v1/tickets/T1/answer", ticket())
    monkeypatch.setattr("sys.stdin", io.StringIO("Yes, from 10 to 16.\n"))
    run = agent("answer", "T1", "-")

    assert run.out == "answered T1; the AI continues its reply\n"
    assert api.last_body() == {"text": "Yes, from 10 to 16."}


def test_approve_sends_the_draft_or_the_edit(agent: Agent, api: FakeAgentApi) -> None:
    api.answer("POST /v1/tickets/T1/approve", ticket(kind="approval"))

    assert agent("approve", "T1").out == "approved the draft of T1; it is sent\n"
    assert api.last_body() == {}
    edited = agent("approve", "T1", "--text", "Your refund is approved.")
    assert edited.out == "approved the draft of T1 as edited; it is sent\n"
    assert api.last_body() == {"text": "Your refund is approved."}


def test_reject_needs_a_review(agent: Agent, api: FakeAgentApi) -> None:
    api.answer("POST /v1/tickets/T1/reject", ticket(kind="approval"))
    assert agent("reject", "T1", "--review", "Too casual").out == "rejected the draft of T1\n"
    assert api.last_body() == {"review": "Too casual"}

    with pytest.raises(SystemExit) as usage:
        agent("reject", "T1")
    assert usage.value.code == 2


def test_resolve_hands_the_thread_back_to_the_ai_unless_told_not_to(
    agent: Agent, api: FakeAgentApi
) -> None:
    api.answer("POST /v1/tickets/T1/resolve", ticket(status="resolved"))

    assert agent("resolve", "T1").out == "resolved T1; the AI has the thread again\n"
    assert api.last_body() == {"handback": "ai"}
    assert agent("resolve", "T1", "--handback", "none").out == (
        "resolved T1; people keep the thread\n"
    )
    assert api.last_body() == {"handback": "none"}


def test_an_api_error_goes_to_stderr_with_status_1(agent: Agent, api: FakeAgentApi) -> None:
    api.answer(
        "POST /v1/tickets/T1/reply",
        {"detail": "ticket T1 is not claimed; claim it first", "code": "not_claimed"},
        status=409,
    )
    run = agent("reply", "T1", "Hello")
    assert (run.code, run.out, run.err) == (
        1,
        "",
        "error: ticket T1 is not claimed; claim it first\n",
    )


def test_show_prints_the_ticket(agent: Agent, api: FakeAgentApi) -> None:
    api.answer(
        "GET /v1/tickets/T1",
        {"ticket": ticket(), "ai": {"question": "Sunday?"}, "thread": None, "messages": []},
    )
    run = agent("show", "T1")
    assert run.out.startswith("ticket      T1\n")
    assert "  question: Sunday?\n" in run.out


def test_ownership_lists_a_threads_owners_oldest_first(agent: Agent, api: FakeAgentApi) -> None:
    changes: list[dict[str, str | None]] = [
        {
            "at": "2025-03-01T12:00:00+00:00",
            "owner": "human",
            "previous_owner": "ai",
            "agent_id": None,
            "reason": "the user asked for a person",
        },
        {
            "at": "2025-03-01T12:05:00+00:00",
            "owner": "human",
            "previous_owner": "human",
            "agent_id": "a1",
            "reason": "Alex claimed ticket T1",
        },
    ]
    api.answer("GET /v1/threads/th-1/ownership", {"thread_id": "th-1", "changes": changes})

    run = agent("ownership", "th-1")

    assert run.code == 0, run.err
    header, first, second = run.out.splitlines()
    assert header.split() == ["AT", "FROM", "TO", "REASON"]
    noon = f"{datetime.fromisoformat('2025-03-01T12:00:00+00:00').astimezone():%Y-%m-%d %H:%M:%S}"
    assert first.startswith(noon)
    assert "the AI" in first
    assert first.endswith("the user asked for a person")
    assert "people (a1)" in second
    assert json.loads(agent("ownership", "th-1", "--json").out)["changes"] == changes


def test_ownership_of_a_thread_without_changes_or_of_another_department(
    agent: Agent, api: FakeAgentApi
) -> None:
    api.answer("GET /v1/threads/th-1/ownership", {"thread_id": "th-1", "changes": []})
    assert agent("ownership", "th-1").out == "no ownership changes\n"

    api.answer(
        "GET /v1/threads/th-2/ownership",
        {"detail": "thread th-2 belongs to department 'legal'", "code": "wrong_department"},
        status=403,
    )
    refused = agent("ownership", "th-2")
    assert (refused.code, refused.err) == (1, "error: thread th-2 belongs to department 'legal'\n")
