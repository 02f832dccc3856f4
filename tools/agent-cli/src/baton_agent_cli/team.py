"""``baton-agent canned`` and ``baton-agent note``: the team's canned replies and internal
notes on a ticket."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import datetime
from typing import TextIO
from urllib.parse import quote

from .api import Api, Json
from .errors import CliError
from .render import table

Printer = Callable[[Json, TextIO], None]


def add_team_commands(with_ticket: Callable[[str, str], argparse.ArgumentParser]) -> None:
    canned = with_ticket(
        "canned", "the canned replies for a ticket, filled in; --use SHORTCUT sends one"
    )
    canned.add_argument("--use", metavar="SHORTCUT", help="send this canned reply as your reply")
    canned.add_argument(
        "--idempotency-key",
        help="with --use: the same key again (a retried script) sends the reply only once",
    )
    with_ticket("note", "add an internal note (never shown to the user or the AI)").add_argument(
        "text", metavar="TEXT", help="the note; - reads standard input"
    )


def _ticket(ticket_id: str, what: str) -> str:
    return f"/v1/tickets/{quote(ticket_id, safe='')}/{what}"


def print_canned(result: Json, out: TextIO) -> None:
    found = result["canned_responses"]
    if not found:
        print("no canned replies for this ticket", file=out)
        return
    rows = []
    for canned in found:
        text = " ".join(canned["text"].split())
        missing = f"  [missing: {', '.join(canned['missing'])}]" if canned["missing"] else ""
        rows.append([canned["shortcut"], canned["title"], text + missing])
    table(["SHORTCUT", "TITLE", "TEXT"], rows, out)


def canned_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    """List the ticket's canned replies, or send the one named by ``--use`` as it is filled
    in; one whose fields the thread lacks is refused, so no customer reads a gap."""
    found = api.get(_ticket(args.ticket_id, "canned-responses"))
    if args.use is None:
        return found, print_canned
    chosen = next((c for c in found["canned_responses"] if c["shortcut"] == args.use), None)
    if chosen is None:
        raise CliError(f"no canned reply {args.use!r} for ticket {args.ticket_id}")
    if chosen["missing"]:
        raise CliError(
            f"canned reply {args.use!r} needs {', '.join(chosen['missing'])}, which the thread "
            "lacks; write the reply yourself with baton-agent reply"
        )
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else {}
    result = api.post(_ticket(args.ticket_id, "reply"), {"text": chosen["text"]}, **headers)

    def show(r: Json, out: TextIO) -> None:
        print(
            f"replied on {r['ticket']['ticket_id']} with {args.use!r}: {r['message_id']}", file=out
        )

    return result, show


def note_command(api: Api, args: argparse.Namespace, _: datetime) -> tuple[Json, Printer]:
    from .commands import read_text  # here: commands imports this module

    result = api.post(_ticket(args.ticket_id, "notes"), {"text": read_text(args.text)})

    def show(r: Json, out: TextIO) -> None:
        print(f"noted on {r['ticket_id']} (internal): {r['note_id']}", file=out)

    return result, show
