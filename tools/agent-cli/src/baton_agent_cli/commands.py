"""One function per ``baton-agent`` command: call the API, and say how to print the answer.

A command returns the API's JSON and a printer for it, so ``--json`` prints the same answer
the table or sentence is made from.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO
from urllib.parse import quote

import httpx

from .api import Api, Json
from .config import Login, config_path, save_login
from .errors import CliError
from .render import lease_until, print_json, print_ownership, print_queue, print_ticket
from .team import canned_command, note_command

Printer = Callable[[Json, TextIO], None]
Command = Callable[[Api, argparse.Namespace, datetime], tuple[Json, Printer]]


def read_text(value: str) -> str:
    """``-`` reads standard input, which keeps a token or a long text out of the shell."""
    return sys.stdin.read().strip() if value == "-" else value


def _path(ticket_id: str, action: str = "") -> str:
    path = f"/v1/tickets/{quote(ticket_id, safe='')}"
    return f"{path}/{action}" if action else path


def _says(message: Callable[[Json], str]) -> Printer:
    def show(result: Json, out: TextIO) -> None:
        print(message(result), file=out)

    return show


def queue_command(api: Api, args: argparse.Namespace, now: datetime) -> tuple[Json, Printer]:
    result = api.get(
        "/v1/tickets",
        status=args.status,
        kind=args.kind,
        department=args.department,
        limit=args.limit,
    )
    return result, lambda r, out: print_queue(r["tickets"], out, now)


def show_command(api: Api, args: argparse.Namespace, now: datetime) -> tuple[Json, Printer]:
    return api.get(_path(args.ticket_id)), lambda r, out: print_ticket(r, out, now)


def claim_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    result = api.post(_path(args.ticket_id, "claim"))
    return result, _says(lambda r: f"claimed {r['ticket_id']}{lease_until(r)}")


def release_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    result = api.post(_path(args.ticket_id, "release"))
    return result, _says(lambda r: f"released {r['ticket_id']}; it is back in the queue")


def reply_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else {}
    result = api.post(_path(args.ticket_id, "reply"), {"text": read_text(args.text)}, **headers)
    return result, _says(lambda r: f"replied on {r['ticket']['ticket_id']}: {r['message_id']}")


def answer_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    result = api.post(_path(args.ticket_id, "answer"), {"text": read_text(args.text)})
    return result, _says(lambda r: f"answered {r['ticket_id']}; the AI continues its reply")


def approve_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    body = {"text": read_text(args.text)} if args.text is not None else {}
    result = api.post(_path(args.ticket_id, "approve"), body)
    edited = " as edited" if body else ""
    return result, _says(lambda r: f"approved the draft of {r['ticket_id']}{edited}; it is sent")


def reject_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    result = api.post(_path(args.ticket_id, "reject"), {"review": read_text(args.review)})
    return result, _says(lambda r: f"rejected the draft of {r['ticket_id']}")


def _json_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def edited_arguments(
    proposed: Mapping[str, Any], arguments: str | None, sets: Sequence[str]
) -> dict[str, Any] | None:
    """The arguments to approve with: ``--arguments`` (a JSON object) or else the proposed
    ones, with each ``--set key=value`` on top; None when nothing was changed."""
    if arguments is None and not sets:
        return None
    if arguments is not None:
        try:
            base = json.loads(read_text(arguments))
        except ValueError as exc:
            raise CliError(f"--arguments is not JSON: {exc}") from exc
        if not isinstance(base, dict):
            raise CliError("--arguments must be a JSON object")
    else:
        base = dict(proposed)
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CliError(f"--set takes KEY=VALUE, not {item!r}")
        base[key] = _json_value(value)
    return base


def approve_action_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    body: Json = {}
    if args.arguments is not None or args.set:
        # --set applies on top of what the AI proposed: read the proposal first.
        proposed: Json = {}
        if args.arguments is None:
            ticket = api.get(_path(args.ticket_id))["ticket"]
            proposed = (ticket.get("action") or {}).get("arguments") or {}
        body = {"arguments": edited_arguments(proposed, args.arguments, args.set)}
    result = api.post(_path(args.ticket_id, "approve-action"), body)
    edited = " with your arguments" if body else ""
    return result, _says(
        lambda r: (
            f"approved the call of {(r.get('action') or {}).get('tool_name', 'the tool')} "
            f"on {r['ticket_id']}{edited}; the AI runs it"
        )
    )


def deny_action_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    result = api.post(_path(args.ticket_id, "deny-action"), {"reason": read_text(args.reason)})
    return result, _says(
        lambda r: (
            f"denied the call of {(r.get('action') or {}).get('tool_name', 'the tool')} "
            f"on {r['ticket_id']}; the AI goes on without it"
        )
    )


def resolve_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    result = api.post(_path(args.ticket_id, "resolve"), {"handback": args.handback})
    to = "the AI has the thread again" if args.handback == "ai" else "people keep the thread"
    return result, _says(lambda r: f"resolved {r['ticket_id']}; {to}")


def ownership_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    result = api.get(f"/v1/threads/{quote(args.thread_id, safe='')}/ownership")
    return result, lambda r, out: print_ownership(r["changes"], out)


COMMANDS: Mapping[str, Command] = {
    "queue": queue_command,
    "show": show_command,
    "claim": claim_command,
    "release": release_command,
    "reply": reply_command,
    "answer": answer_command,
    "approve": approve_command,
    "reject": reject_command,
    "approve-action": approve_action_command,
    "deny-action": deny_action_command,
    "resolve": resolve_command,
    "ownership": ownership_command,
    "canned": canned_command,
    "note": note_command,
}


def login_command(
    args: argparse.Namespace, out: TextIO, transport: httpx.BaseTransport | None
) -> int:
    """Save the login only once the API has accepted the token."""
    login = Login(url=args.url.rstrip("/"), token=read_text(args.token))
    with Api(login, transport=transport) as api:
        me = api.get("/console/me")
    path = config_path()
    save_login(login, path)
    if args.json:
        print_json(me, out)
    else:
        departments = ", ".join(me["departments"])
        print(f"signed in as {me['name']} ({departments}) at {login.url}", file=out)
        print(f"saved to {path}", file=out)
    return 0
