"""``baton-queue canned``: manage canned replies from a shell, straight against MongoDB.

    baton-queue canned create --department billing --shortcut refund --title "Refund" \\
        --text "Hi {user_name}, your refund for {metadata.order_id} is on its way."
    baton-queue canned create --shared --shortcut hello --title "Hello" --text -
    baton-queue canned list [--department billing] [--json]
    baton-queue canned update CANNED_ID [--title ...] [--text ...] [--shortcut ...]
                                        [--department ... | --shared]
    baton-queue canned delete CANNED_ID
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import MAX_TEXT_LENGTH
from baton_runtime import Document

from .canned import CannedResponse, placeholders
from .store.canned import MongoCanned
from .usecases.canned import UNSET, CannedResponses


class _Limits(BaseSettings):
    """The service's reply limit (``HUMAN_QUEUE_MAX_TEXT_LENGTH``), without the rest of its
    settings (the admin token above all), which this command has no use for."""

    model_config = SettingsConfigDict(env_prefix="HUMAN_QUEUE_", extra="ignore")

    max_text_length: int = Field(default=4000, ge=1, le=MAX_TEXT_LENGTH)


def add_canned_commands(commands: Any) -> None:
    canned = commands.add_parser("canned", help="canned replies agents insert into replies")
    actions = canned.add_subparsers(dest="action", required=True)
    text_help = "the reply: {user_name}, {agent_name}, {metadata.KEY}; - reads standard input"

    create = actions.add_parser("create", help="create a canned reply")
    where = create.add_mutually_exclusive_group(required=True)
    where.add_argument("--department", help="the department whose agents use it")
    where.add_argument("--shared", action="store_true", help="for every department")
    create.add_argument("--shortcut", required=True, help="e.g. refund (unique per department)")
    create.add_argument("--title", required=True)
    create.add_argument("--text", required=True, help=text_help)

    listing = actions.add_parser("list", help="list canned replies")
    listing.add_argument("--department", help="only this department's (not the shared ones)")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")

    update = actions.add_parser("update", help="change a canned reply's given fields")
    update.add_argument("canned_id", metavar="CANNED_ID")
    moved = update.add_mutually_exclusive_group()
    moved.add_argument("--department")
    moved.add_argument("--shared", action="store_true", help="make it a reply for everyone")
    update.add_argument("--shortcut")
    update.add_argument("--title")
    update.add_argument("--text", help=text_help)

    delete = actions.add_parser("delete", help="delete a canned reply")
    delete.add_argument("canned_id", metavar="CANNED_ID")


def _text(value: str | None) -> str | None:
    return sys.stdin.read().rstrip("\n") if value == "-" else value


def _line(canned: CannedResponse) -> str:
    return "\t".join(
        [
            canned.canned_id,
            canned.department or "(shared)",
            canned.shortcut,
            canned.title,
            " ".join(canned.text.split()),
        ]
    )


async def run_canned(args: argparse.Namespace, db: AsyncDatabase[Document]) -> int:
    store = MongoCanned(db)
    await store.ensure_indexes()
    canned = CannedResponses(
        canned=store,
        tickets=None,
        conversations=None,
        max_length=_Limits().max_text_length,
    )
    if args.action == "create":
        made = await canned.create(
            department=None if args.shared else args.department,
            shortcut=args.shortcut,
            title=args.title,
            text=_text(args.text) or "",
        )
        print(made.canned_id)
        return 0
    if args.action == "list":
        for found in await canned.all(args.department):
            if args.json:
                view = found.model_dump(mode="json") | {"placeholders": placeholders(found.text)}
                print(json.dumps(view, ensure_ascii=False))
            else:
                print(_line(found))
        return 0
    if args.action == "update":
        department: object = UNSET
        if args.shared:
            department = None
        elif args.department is not None:
            department = args.department
        text = _text(args.text)
        updated = await canned.update(
            args.canned_id,
            department=department,
            shortcut=args.shortcut if args.shortcut is not None else UNSET,
            title=args.title if args.title is not None else UNSET,
            text=text if text is not None else UNSET,
        )
        print(_line(updated))
        return 0
    await canned.delete(args.canned_id)
    print(f"deleted {args.canned_id}", file=sys.stderr)
    return 0
