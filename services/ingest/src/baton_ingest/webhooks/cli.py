"""The ``webhooks`` commands of ``baton-ingest-admin``:

    baton-ingest-admin webhooks set GATEWAY_ID --url URL [--event message.sent ...]
    baton-ingest-admin webhooks show GATEWAY_ID
    baton-ingest-admin webhooks rotate-secret GATEWAY_ID
    baton-ingest-admin webhooks remove GATEWAY_ID
    baton-ingest-admin webhooks deliveries GATEWAY_ID [--status dead] [--limit 100]
    baton-ingest-admin webhooks redeliver GATEWAY_ID [--event-id EVENT_ID ...]

A signing secret, when one is made (``set`` of a new webhook, ``rotate-secret``), is
printed once, alone on stdout; the rest goes to stderr. ``--json`` prints JSON on stdout.
A running ingest picks redelivered dead letters up within ``INGEST_WEBHOOK_POLL_INTERVAL_S``.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import Any

from .domain import WEBHOOK_EVENTS, Delivery, Webhook
from .setup import Webhooks


def add_commands(commands: Any) -> None:
    """Add the ``webhooks`` group to the CLI's subcommands."""
    group = commands.add_parser("webhooks", help="the gateways' webhooks and their deliveries")
    actions = group.add_subparsers(dest="action", required=True)

    put = actions.add_parser("set", help="create a webhook (its secret printed once) or change it")
    put.add_argument("gateway_id")
    put.add_argument("--url", required=True, help="https:// URL the events are posted to")
    put.add_argument(
        "--event",
        dest="events",
        action="append",
        choices=WEBHOOK_EVENTS,
        help="an event type to post (repeat for several; default message.sent)",
    )
    for name, what in (
        ("show", "the webhook (without its secret)"),
        ("rotate-secret", "a new signing secret, printed once"),
        ("remove", "remove the webhook and its deliveries"),
    ):
        actions.add_parser(name, help=what).add_argument("gateway_id")

    listed = actions.add_parser("deliveries", help="list deliveries, oldest first")
    listed.add_argument("gateway_id")
    listed.add_argument("--status", choices=("pending", "delivered", "dead"))
    listed.add_argument("--limit", type=int, default=100)

    redeliver = actions.add_parser("redeliver", help="put dead letters back in line")
    redeliver.add_argument("gateway_id")
    redeliver.add_argument(
        "--event-id",
        dest="event_ids",
        action="append",
        type=uuid.UUID,
        help="only this event's dead letter (repeat for several; default all)",
    )


def _described(webhook: Webhook) -> dict[str, Any]:
    return {
        "gateway_id": webhook.gateway_id,
        "url": webhook.url,
        "events": list(webhook.events),
        "created_at": webhook.created_at.isoformat(),
        "updated_at": webhook.updated_at.isoformat(),
    }


def _show(webhook: Webhook, *, as_json: bool, secret: str | None = None) -> None:
    described = _described(webhook)
    if as_json:
        print(json.dumps({**described, **({"secret": secret} if secret else {})}))
        return
    for field, value in described.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{field}: {shown}", file=sys.stderr)
    if secret is not None:
        print("signing secret (shown only now; store it safely):", file=sys.stderr)
        print(secret)


def _delivery(delivery: Delivery) -> dict[str, Any]:
    return {
        "event_id": str(delivery.event_id),
        "event_type": delivery.event_type,
        "thread_id": delivery.thread_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "created_at": delivery.created_at.isoformat(),
        "last_error": delivery.last_error,
    }


async def act(args: argparse.Namespace, webhooks: Webhooks) -> None:
    as_json: bool = args.json
    gateway_id: str = args.gateway_id
    if args.action == "set":
        result = await webhooks.set(
            gateway_id, url=args.url, events=args.events or ["message.sent"]
        )
        _show(result.webhook, as_json=as_json, secret=result.secret)
    elif args.action == "show":
        _show(await webhooks.get(gateway_id), as_json=as_json)
    elif args.action == "rotate-secret":
        result = await webhooks.rotate_secret(gateway_id)
        _show(result.webhook, as_json=as_json, secret=result.secret)
    elif args.action == "remove":
        await webhooks.remove(gateway_id)
        print(json.dumps({"removed": gateway_id}) if as_json else f"removed {gateway_id}")
    elif args.action == "deliveries":
        found = await webhooks.deliveries(gateway_id, status=args.status, limit=args.limit)
        if as_json:
            print(json.dumps([_delivery(d) for d in found]))
            return
        for d in found:
            print(
                f"{d.event_id}\t{d.event_type}\t{d.status}\tattempts={d.attempts}"
                f"\t{d.created_at.isoformat()}\t{d.last_error or ''}"
            )
    else:
        count = await webhooks.redeliver(gateway_id, event_ids=args.event_ids)
        print(json.dumps({"redelivered": count}) if as_json else f"redelivered {count}")
