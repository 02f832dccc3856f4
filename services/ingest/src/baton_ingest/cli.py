"""``baton-ingest-admin``: manage gateways and their keys from a shell, straight against
MongoDB.

    baton-ingest-admin gateways create --name "web widget" --channel web [--channel ...]
                                       [--may-set-routing] [--require-identity]
    baton-ingest-admin gateways list
    baton-ingest-admin gateways rotate-key GATEWAY_ID
    baton-ingest-admin gateways rotate-identity-secret GATEWAY_ID
    baton-ingest-admin gateways update GATEWAY_ID [--channel ...] [--(no-)may-set-routing]
                                       [--(no-)require-identity]
    baton-ingest-admin gateways revoke GATEWAY_ID
    baton-ingest-admin webhooks set|show|rotate-secret|remove|deliveries|redeliver GATEWAY_ID ...

MongoDB comes from ``MONGODB_URL`` / ``MONGODB_DATABASE``, as for the service. A new key is
printed once, alone on stdout (so ``KEY=$(baton-ingest-admin gateways create ...)`` works);
the rest goes to stderr. ``--json`` prints one JSON object on stdout instead. The
``webhooks`` commands are described in :mod:`baton_ingest.webhooks.cli`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from typing import Any

from baton_runtime import MongoSettings, connect_mongo, database

from .domain import IngestError
from .gateways import Gateway
from .registry import Gateways, Issued
from .store import MongoGateways
from .webhooks import MongoDeliveries, MongoWebhooks, Webhooks, WebhookSettings
from .webhooks import cli as webhooks_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="baton-ingest-admin", description="Manage the gateways that may call ingest."
    )
    parser.add_argument("--json", action="store_true", help="print JSON on stdout")
    commands = parser.add_subparsers(dest="group", required=True)
    gateways = commands.add_parser("gateways", help="chat gateways and their keys")
    actions = gateways.add_subparsers(dest="action", required=True)

    create = actions.add_parser("create", help="create a gateway and print its key once")
    create.add_argument("--name", required=True, help="what the gateway is, for people")
    create.add_argument(
        "--channel",
        dest="channels",
        action="append",
        required=True,
        help="a channel its threads may have (repeat for several; '*' for any)",
    )
    create.add_argument(
        "--may-set-routing", action="store_true", help="may set metadata.tier (routing)"
    )
    create.add_argument(
        "--require-identity", action="store_true", help="end users need a user_hash"
    )

    actions.add_parser("list", help="list gateways (without keys or secrets)")
    for name, what in (
        ("rotate-key", "a new key, printed once; the old one stops working at once"),
        ("rotate-identity-secret", "a new identity secret, printed once"),
        ("revoke", "revoke the gateway for good"),
    ):
        actions.add_parser(name, help=what).add_argument("gateway_id")

    update = actions.add_parser("update", help="change a gateway's channels or flags")
    update.add_argument("gateway_id")
    update.add_argument(
        "--channel", dest="channels", action="append", help="the new channels (repeat)"
    )
    update.add_argument("--may-set-routing", action=argparse.BooleanOptionalAction)
    update.add_argument("--require-identity", action=argparse.BooleanOptionalAction)
    webhooks_cli.add_commands(commands)
    return parser


def _described(gateway: Gateway) -> dict[str, Any]:
    return {
        "gateway_id": gateway.gateway_id,
        "name": gateway.name,
        "channels": list(gateway.channels),
        "may_set_routing": gateway.may_set_routing,
        "require_identity": gateway.require_identity,
        "active": gateway.active,
        "created_at": gateway.created_at.isoformat(),
    }


def _show(gateway: Gateway, *, as_json: bool, issued: Issued | None = None) -> None:
    described = _described(gateway)
    if as_json:
        if issued is not None:
            described["key"] = issued.key
            described["identity_secret"] = issued.identity_secret
        print(json.dumps(described))
        return
    for field, value in described.items():
        shown = ", ".join(value) if isinstance(value, list) else value
        print(f"{field}: {shown}", file=sys.stderr)
    if issued is not None and issued.identity_secret is not None:
        print(f"identity_secret (shown only now): {issued.identity_secret}", file=sys.stderr)
    if issued is not None and issued.key is not None:
        print("key (shown only now; store it safely):", file=sys.stderr)
        print(issued.key)


def _list(found: Sequence[Gateway], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps([_described(g) for g in found]))
        return
    for g in found:
        print(
            f"{g.gateway_id}\t{g.name}\t{','.join(g.channels)}"
            f"\tmay_set_routing={g.may_set_routing}\trequire_identity={g.require_identity}"
            f"\tactive={g.active}"
        )


async def _act(args: argparse.Namespace, gateways: Gateways) -> None:
    as_json: bool = args.json
    if args.action == "create":
        issued = await gateways.create(
            args.name,
            args.channels,
            may_set_routing=args.may_set_routing,
            require_identity=args.require_identity,
        )
        _show(issued.gateway, as_json=as_json, issued=issued)
    elif args.action == "list":
        _list(await gateways.all(), as_json=as_json)
    elif args.action == "rotate-key":
        issued = await gateways.rotate_key(args.gateway_id)
        _show(issued.gateway, as_json=as_json, issued=issued)
    elif args.action == "rotate-identity-secret":
        issued = await gateways.rotate_identity_secret(args.gateway_id)
        _show(issued.gateway, as_json=as_json, issued=issued)
    elif args.action == "update":
        gateway = await gateways.update(
            args.gateway_id,
            channels=args.channels,
            may_set_routing=args.may_set_routing,
            require_identity=args.require_identity,
        )
        _show(gateway, as_json=as_json)
    else:
        _show(await gateways.revoke(args.gateway_id), as_json=as_json)


async def _run(args: argparse.Namespace, settings: MongoSettings) -> None:
    client = connect_mongo(settings, app_name="baton-ingest-admin")
    try:
        db = database(client, settings)
        store = MongoGateways(db)
        await store.ensure_indexes()
        if args.group == "webhooks":
            deliveries = MongoDeliveries(db)
            await deliveries.ensure_indexes()
            webhooks = Webhooks(
                gateways=Gateways(store),
                webhooks=MongoWebhooks(db),
                deliveries=deliveries,
                allow_http=WebhookSettings().allow_http,
            )
            await webhooks_cli.act(args, webhooks)
        else:
            await _act(args, Gateways(store))
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        asyncio.run(_run(args, MongoSettings()))
    except IngestError as exc:
        print(f"baton-ingest-admin: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
