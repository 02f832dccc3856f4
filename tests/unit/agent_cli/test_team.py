"""``baton-agent canned`` and ``baton-agent note`` against a fake agent API."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from baton_agent_cli import Login, main, save_login
from baton_agent_cli.render import print_ticket

from .conftest import TOKEN, URL, FakeAgentApi, ticket

CANNED = "GET /v1/tickets/T1/canned-responses"


def canned(shortcut: str, text: str, missing: list[str] | None = None) -> dict[str, Any]:
    return {
        "canned_id": f"c-{shortcut}",
        "department": "billing",
        "shortcut": shortcut,
        "title": f"The {shortcut} reply",
        "text": text,
        "missing": missing or [],
    }


def run(api: FakeAgentApi, config: Path, *argv: str) -> tuple[int, str, str]:
    save_login(Login(url=URL, token=TOKEN), config)
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err, transport=api.transport)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def offered(api: FakeAgentApi) -> FakeAgentApi:
    api.answer(
        CANNED,
        {
            "ticket_id": "T1",
            "canned_responses": [
                canned("hello", "Hi Ada,\nAlex here."),
                canned("order", "Order  is on its way.", ["metadata.order_id"]),
            ],
        },
    )
    return api


def test_canned_lists_the_tickets_replies_filled_in(offered: FakeAgentApi, config: Path) -> None:
    code, out, _ = run(offered, config, "canned", "T1")
    assert code == 0
    assert out.splitlines() == [
        "SHORTCUT  TITLE            TEXT",
        "hello     The hello reply  Hi Ada, Alex here.",
        "order     The order reply  Order is on its way.  [missing: metadata.order_id]",
    ]


def test_canned_use_sends_the_filled_in_text_as_the_reply(
    offered: FakeAgentApi, config: Path
) -> None:
    offered.answer(
        "POST /v1/tickets/T1/reply", {"message_id": "m-1", "ticket": ticket(kind="conversation")}
    )
    code, out, _ = run(offered, config, "canned", "T1", "--use", "hello", "--idempotency-key", "k1")
    assert code == 0
    assert out.strip() == "replied on T1 with 'hello': m-1"
    assert offered.last_body() == {"text": "Hi Ada,\nAlex here."}
    assert offered.requests[-1].headers["Idempotency-Key"] == "k1"


@pytest.mark.parametrize(
    ("shortcut", "error"),
    [
        ("nope", "error: no canned reply 'nope' for ticket T1"),
        ("order", "error: canned reply 'order' needs metadata.order_id, which the thread lacks"),
    ],
)
def test_canned_use_sends_nothing_it_cannot_send_whole(
    offered: FakeAgentApi, config: Path, shortcut: str, error: str
) -> None:
    code, _, err = run(offered, config, "canned", "T1", "--use", shortcut)
    assert code == 1
    assert err.startswith(error)
    assert [r.method for r in offered.requests] == ["GET"]


def test_note_adds_an_internal_note(
    api: FakeAgentApi, config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.answer("POST /v1/tickets/T1/notes", {"note_id": "n-1", "ticket_id": "T1"}, status=201)
    monkeypatch.setattr("sys.stdin", io.StringIO("Called the bank.\n"))
    code, out, _ = run(api, config, "note", "T1", "-")
    assert (code, out.strip()) == (0, "noted on T1 (internal): n-1")
    assert api.last_body() == {"text": "Called the bank."}


def test_a_refused_note_prints_the_apis_sentence(api: FakeAgentApi, config: Path) -> None:
    api.answer(
        "POST /v1/tickets/T1/notes",
        {"detail": "the note is empty", "code": "invalid_text"},
        status=422,
    )
    assert run(api, config, "note", "T1", " ")[::2] == (1, "error: the note is empty\n")


def test_show_prints_the_notes_as_internal() -> None:
    detail = {
        "ticket": ticket(),
        "ai": {"reason": None},
        "thread": None,
        "messages": [],
        "notes": [
            {
                "note_id": "n-1",
                "internal": True,
                "author": {"agent_id": "a1", "name": "Sam"},
                "text": "VIP, be quick",
                "created_at": "2026-03-01T12:00:00+00:00",
            }
        ],
    }
    out = io.StringIO()
    print_ticket(detail, out, datetime(2026, 3, 1, 12, 5, tzinfo=UTC))
    text = out.getvalue()
    assert "internal notes (the team's only; never shown to the user):" in text
    assert "note by Sam" in text
    assert "      VIP, be quick" in text
