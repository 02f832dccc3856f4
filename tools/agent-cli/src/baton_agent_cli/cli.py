"""The ``baton-agent`` command line: its options, and which command runs with which login."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TextIO

import httpx

from .api import Api
from .commands import COMMANDS, login_command
from .config import load_login
from .errors import CliError
from .render import print_json
from .team import add_team_commands
from .watch import add_watch_command, watch_command


def run(args: argparse.Namespace, out: TextIO, *, transport: httpx.BaseTransport | None) -> int:
    if args.command == "login":
        return login_command(args, out, transport)
    if args.command == "watch":
        return watch_command(load_login(args.url, args.token), args, out, transport=transport)
    with Api(load_login(args.url, args.token), transport=transport) as api:
        result, show = COMMANDS[args.command](api, args, datetime.now(UTC))
    if args.json:
        print_json(result, out)
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
        description="Work Baton's human queue: list, claim, reply, answer, approve, "
        "decide on the AI's tool calls, resolve.",
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
    queue.add_argument(
        "--kind", choices=["conversation", "escalation", "question", "approval", "action"]
    )
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
    approve_action = with_ticket(
        "approve-action", "let the AI's proposed tool call run, as proposed or edited"
    )
    approve_action.add_argument(
        "--arguments",
        metavar="JSON",
        help="a JSON object to run the call with instead of the proposed arguments; "
        "- reads standard input",
    )
    approve_action.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change one argument (repeatable), on top of the proposed ones or --arguments; "
        "VALUE is read as JSON when it is JSON (42, true, null, [1]), else as text",
    )
    with_ticket("deny-action", "refuse the AI's proposed tool call").add_argument(
        "--reason", required=True, help="why it must not run; - reads standard input"
    )
    with_ticket("resolve", "close a conversation or escalation ticket").add_argument(
        "--handback",
        choices=["ai", "none"],
        default="ai",
        help="ai (default): the AI answers the next messages; none: people keep the thread",
    )
    what = "who owned a thread, and when: the AI, people, an agent"
    command("ownership", what).add_argument("thread_id", metavar="THREAD_ID")
    add_team_commands(with_ticket)
    add_watch_command(command)
    return root


def main(
    argv: Sequence[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """Run one command and return its exit status: 0, or 1 after ``error: ...`` on stderr,
    or 130 when interrupted; bad usage exits with argparse's 2.

    ``transport`` stands in for the network, for tests.
    """
    args = parser().parse_args(argv)
    try:
        return run(args, out or sys.stdout, transport=transport)
    except CliError as exc:
        print(f"error: {exc}", file=err or sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
