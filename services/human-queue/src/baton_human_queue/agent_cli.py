"""``baton-agent``: work the human queue from a terminal or a script, over the agent API.

    baton-agent login --url http://127.0.0.1:8004 --token bq_...
    baton-agent queue [--status open] [--kind question] [--department billing]
    baton-agent show TICKET_ID
    baton-agent claim TICKET_ID            baton-agent release TICKET_ID
    baton-agent reply TICKET_ID "text"     baton-agent answer TICKET_ID "text"
    baton-agent approve TICKET_ID [--text "edited text"]
    baton-agent reject TICKET_ID --review "why"
    baton-agent resolve TICKET_ID [--handback ai|none]

Every command takes ``--json`` to print the API's JSON instead of a table. A text (or
token) of ``-`` is read from standard input. An error the API returns is printed as ``error: <detail>``
on stderr with exit status 1.

``login`` checks the token and keeps the URL and token in ``$BATON_AGENT_CONFIG`` (default
``~/.config/baton/agent.json``), readable by the user alone. ``--url`` / ``--token`` or
``BATON_AGENT_URL`` / ``BATON_AGENT_TOKEN`` override it, so scripts need no file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import httpx

Json = dict[str, Any]
TIMEOUT_S = 15.0
SUMMARY_WIDTH = 60


class CliError(Exception):
    """Something to report as ``error: <message>`` with exit status 1."""


@dataclass(frozen=True)
class Login:
    url: str
    token: str


def config_path() -> Path:
    explicit = os.environ.get("BATON_AGENT_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "baton" / "agent.json"


def save_login(login: Login, path: Path) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Created 0600 rather than chmod-ed after writing: the token is never readable by others,
    # not even for a moment; chmod covers a file that existed with wider permissions.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump({"url": login.url, "token": login.token}, file, indent=2)
        file.write("\n")
    path.chmod(0o600)


def load_login(args: argparse.Namespace) -> Login:
    stored: Mapping[str, Any] = {}
    path = config_path()
    if path.exists():
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read {path}: {exc}") from exc
    url = args.url or os.environ.get("BATON_AGENT_URL") or stored.get("url")
    token = args.token or os.environ.get("BATON_AGENT_TOKEN") or stored.get("token")
    if not url or not token:
        raise CliError("not signed in: run `baton-agent login --url URL --token TOKEN` first")
    return Login(url=str(url).rstrip("/"), token=str(token))


class Api:
    """The agent API with one agent's token; raises :class:`CliError` with the API's detail."""

    def __init__(self, login: Login, *, transport: httpx.BaseTransport | None = None) -> None:
        self._url = login.url
        self._http = httpx.Client(
            base_url=login.url,
            headers={"Authorization": f"Bearer {login.token}", "Accept": "application/json"},
            timeout=TIMEOUT_S,
            transport=transport,
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Json:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self._http.request(
                method,
                path,
                params=query,
                json=body,
                headers=dict(headers or {}),
            )
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {self._url}: {exc}") from exc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_error:
            detail = data.get("detail") if isinstance(data, dict) else None
            if not isinstance(detail, str):
                detail = f"{response.status_code} {response.reason_phrase}"
            raise CliError(detail)
        if not isinstance(data, dict):
            raise CliError(f"{method} {path}: the answer is not a JSON object")
        return data

    def get(self, path: str, **params: Any) -> Json:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any = None, **headers: str) -> Json:
        return self.request("POST", path, body=body, headers=headers)


# ---------------------------------------------------------------- formatting


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def duration(seconds: float) -> str:
    s = max(0, int(seconds))
    days, hours, minutes = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {s % 60:02d}s"
    return f"{s}s"


def waiting(ticket: Json, now: datetime) -> str:
    created = _parse(ticket["created_at"])
    end = _parse(ticket.get("resolved_at")) or now
    return duration((end - created).total_seconds()) if created else ""


def sla(ticket: Json, now: datetime) -> str:
    """Time left to the first human response, as the console shows it."""
    if ticket.get("first_response_at"):
        return "met"
    if ticket["status"] == "resolved":
        return "closed"
    due = _parse(ticket["sla_due_at"])
    assert due is not None
    left = (due - now).total_seconds()
    if left <= 0 or ticket.get("sla_breached"):
        return f"overdue {duration(-left)}"
    return f"{duration(left)} left"


def summary(ticket: Json) -> str:
    kind = ticket["kind"]
    text = (
        (kind == "question" and ticket.get("question"))
        or (kind == "approval" and ticket.get("draft_text"))
        or (kind == "escalation" and ticket.get("suggestion"))
        or ticket.get("reason")
        or ""
    )
    return " ".join(str(text).split())


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def holder(ticket: Json) -> str:
    agent = ticket.get("assigned_agent")
    return str(agent["name"]) if agent else "-"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Plain text columns, padded to the widest cell; the last column is not padded."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in (headers, *rows):
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=False)]
        print("  ".join([*cells, line[-1]]).rstrip(), file=out)


def print_queue(found: Sequence[Json], out: TextIO, now: datetime) -> None:
    if not found:
        print("no tickets", file=out)
        return
    rows = [
        [
            t["ticket_id"],
            t["kind"],
            str(t["priority"]),
            t["status"],
            t.get("department") or "-",
            waiting(t, now),
            sla(t, now),
            holder(t),
            clip(summary(t), SUMMARY_WIDTH),
        ]
        for t in found
    ]
    headers = ["ID", "KIND", "PRI", "STATUS", "DEPARTMENT", "WAITING", "SLA", "HOLDER", "SUMMARY"]
    table(headers, rows, out)


def message_label(message: Json) -> str:
    role = message["role"]
    if role == "user":
        label = "user"
    elif role == "tool":
        human = message.get("human") or {}
        label = f"tool result (answered by {human['name']})" if human.get("name") else "tool result"
    elif isinstance(message["content"], list):
        label = "AI tool call"
    elif message.get("provider") == "human":
        label = f"human {message.get('agent_name') or ''}".strip()
    else:
        label = f"AI {message.get('agent_name') or ''}".strip()
    if message.get("status"):
        label += f" [draft: {message['status']}]"
    elif not message.get("visible_to_user", True) and role != "tool":
        label += " [not shown to the user]"
    return label


def message_text(message: Json) -> str:
    content = message["content"]
    if not isinstance(content, list):
        return str(content)
    parts = []
    for part in content:
        if part.get("type") == "tool-call":
            args = ", ".join(f"{k}={v!r}" for k, v in (part.get("args") or {}).items())
            parts.append(f"{part.get('tool_name')}({args})")
        else:
            parts.append(str(part.get("result", "")))
    return "\n".join(parts)


def print_ticket(detail: Json, out: TextIO, now: datetime) -> None:
    t, ai, thread = detail["ticket"], detail["ai"], detail.get("thread") or {}
    lease = _parse(t.get("lease_expires_at"))
    facts = [
        ("ticket", t["ticket_id"]),
        ("kind", t["kind"]),
        ("status", t["status"]),
        ("held by", holder(t) + (f" (lease until {lease.astimezone():%H:%M:%S})" if lease else "")),
        ("priority", str(t["priority"])),
        ("department", t.get("department") or "-"),
        ("waiting", waiting(t, now)),
        ("sla", sla(t, now)),
        ("thread", f"{t['thread_id']} (owner: {thread.get('owner', '-')})"),
        ("user", " via ".join(str(v) for v in (thread.get("user_id"), thread.get("channel")) if v)),
    ]
    if t.get("resolution"):
        r = t["resolution"]
        handback = f", handback {r['handback']}" if r.get("handback") else ""
        facts.append(("resolved", f"{r['action']} by {r['agent_name']}{handback}"))
    width = max(len(k) for k, _ in facts)
    for key, value in facts:
        print(f"{key.ljust(width)}  {value}", file=out)
    handed_over = [
        ("reason", ai.get("reason")),
        ("question", ai.get("question")),
        ("context", ai.get("context")),
        ("suggestion", ai.get("suggestion")),
        ("confidence", None if ai.get("confidence") is None else f"{ai['confidence']:.2f}"),
        ("draft", ai.get("draft_text")),
    ]
    present = [(k, v) for k, v in handed_over if v]
    if present:
        print("\nfrom the AI:", file=out)
        for key, value in present:
            print(f"  {key}: {value}", file=out)
    print("\nmessages:", file=out)
    for message in detail["messages"]:
        at = _parse(message["created_at"])
        stamp = f"{at.astimezone():%H:%M:%S}" if at else ""
        print(f"  {stamp}  {message_label(message)}", file=out)
        for line in message_text(message).splitlines() or [""]:
            print(f"      {line}", file=out)


# ---------------------------------------------------------------- commands

Printer = Callable[[Json, TextIO], None]
Command = Callable[[Api, argparse.Namespace, datetime], tuple[Json, Printer]]


def _text(value: str) -> str:
    return sys.stdin.read().strip() if value == "-" else value


def _path(ticket_id: str, action: str = "") -> str:
    path = f"/v1/tickets/{quote(ticket_id, safe='')}"
    return f"{path}/{action}" if action else path


def _says(message: Callable[[Json], str]) -> Printer:
    def show(result: Json, out: TextIO) -> None:
        print(message(result), file=out)

    return show


def _lease(ticket: Json) -> str:
    lease = _parse(ticket.get("lease_expires_at"))
    return f" until {lease.astimezone():%H:%M:%S}" if lease else ""


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
    return result, _says(lambda r: f"claimed {r['ticket_id']}{_lease(r)}")


def release_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    result = api.post(_path(args.ticket_id, "release"))
    return result, _says(lambda r: f"released {r['ticket_id']}; it is back in the queue")


def reply_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else {}
    result = api.post(_path(args.ticket_id, "reply"), {"text": _text(args.text)}, **headers)
    return result, _says(lambda r: f"replied on {r['ticket']['ticket_id']}: {r['message_id']}")


def answer_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    result = api.post(_path(args.ticket_id, "answer"), {"text": _text(args.text)})
    return result, _says(lambda r: f"answered {r['ticket_id']}; the AI continues its reply")


def approve_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    body = {"text": _text(args.text)} if args.text is not None else {}
    result = api.post(_path(args.ticket_id, "approve"), body)
    edited = " as edited" if body else ""
    return result, _says(lambda r: f"approved the draft of {r['ticket_id']}{edited}; it is sent")


def reject_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    result = api.post(_path(args.ticket_id, "reject"), {"review": _text(args.review)})
    return result, _says(lambda r: f"rejected the draft of {r['ticket_id']}")


def resolve_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    result = api.post(_path(args.ticket_id, "resolve"), {"handback": args.handback})
    to = "the AI has the thread again" if args.handback == "ai" else "people keep the thread"
    return result, _says(lambda r: f"resolved {r['ticket_id']}; {to}")


COMMANDS: Mapping[str, Command] = {
    "queue": queue_command,
    "show": show_command,
    "claim": claim_command,
    "release": release_command,
    "reply": reply_command,
    "answer": answer_command,
    "approve": approve_command,
    "reject": reject_command,
    "resolve": resolve_command,
}


def login_command(
    args: argparse.Namespace, out: TextIO, transport: httpx.BaseTransport | None
) -> int:
    login = Login(url=args.url.rstrip("/"), token=_text(args.token))
    with Api(login, transport=transport) as api:
        me = api.get("/console/me")
    path = config_path()
    save_login(login, path)
    if args.json:
        print(json.dumps(me, indent=2, ensure_ascii=False), file=out)
    else:
        departments = ", ".join(me["departments"])
        print(f"signed in as {me['name']} ({departments}) at {login.url}", file=out)
        print(f"saved to {path}", file=out)
    return 0


def run(args: argparse.Namespace, out: TextIO, *, transport: httpx.BaseTransport | None) -> int:
    if args.command == "login":
        return login_command(args, out, transport)
    with Api(load_login(args), transport=transport) as api:
        result, show = COMMANDS[args.command](api, args, datetime.now(UTC))
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False), file=out)
    else:
        show(result, out)
    return 0


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print the API's JSON")
    common.add_argument("--url", help="human-queue URL (else BATON_AGENT_URL, else the login)")
    common.add_argument("--token", help="agent token (else BATON_AGENT_TOKEN, else the login)")

    root = argparse.ArgumentParser(
        prog="baton-agent",
        description="Work Baton's human queue: list, claim, reply, answer, approve, resolve.",
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, what: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[common], help=what, description=what)

    def with_ticket(name: str, what: str) -> argparse.ArgumentParser:
        sub = command(name, what)
        sub.add_argument("ticket_id", metavar="TICKET_ID")
        return sub

    what = "check a token and remember it with the URL"
    login = commands.add_parser("login", help=what, description=what)
    login.add_argument("--url", required=True, help="e.g. http://127.0.0.1:8004")
    login.add_argument(
        "--token", required=True, help="the agent token (bq_...); - reads standard input"
    )
    login.add_argument("--json", action="store_true", help="print the signed-in agent as JSON")

    queue = command("queue", "the queue: highest priority first, then oldest")
    queue.add_argument(
        "--status", choices=["open", "pending", "assigned", "resolved", "all"], default="open"
    )
    queue.add_argument("--kind", choices=["conversation", "escalation", "question", "approval"])
    queue.add_argument("--department")
    queue.add_argument("--limit", type=int, default=100)

    with_ticket("show", "a ticket, what the AI handed over, and the thread")
    with_ticket("claim", "claim a ticket (claiming your own renews the lease)")
    with_ticket("release", "put a ticket you hold back in the queue")
    reply = with_ticket("reply", "write to the user as yourself")
    reply.add_argument("text", metavar="TEXT", help="the reply; - reads standard input")
    reply.add_argument(
        "--idempotency-key",
        help="the same key again (a retried script) sends the reply only once",
    )
    with_ticket("answer", "answer the AI's question").add_argument(
        "text", metavar="TEXT", help="the answer; - reads standard input"
    )
    with_ticket("approve", "send the AI's draft, or your edit of it").add_argument(
        "--text", help="send this instead of the draft; - reads standard input"
    )
    with_ticket("reject", "reject the AI's draft with a review").add_argument(
        "--review", required=True, help="why it must not be sent; - reads standard input"
    )
    with_ticket("resolve", "close a conversation or escalation ticket").add_argument(
        "--handback",
        choices=["ai", "none"],
        default="ai",
        help="ai (default): the AI answers the next messages; none: people keep the thread",
    )
    return root


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args, out or sys.stdout, transport=transport)
    except CliError as exc:
        print(f"error: {exc}", file=err or sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
