"""``baton-queue``: manage human agents from a shell, straight against MongoDB.

    baton-queue agents create --name Alex --department billing [--department support]
    baton-queue agents list

MongoDB comes from ``MONGODB_URL`` / ``MONGODB_DATABASE``, as for the service. The new
agent's token is printed once, on stdout; nothing else prints it again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from baton_runtime import MongoSettings, connect_mongo, database

from .agents import Agents, InvalidAgentError
from .store import MongoAgents


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baton-queue", description="Manage Baton's human queue.")
    commands = parser.add_subparsers(dest="group", required=True)
    agents = commands.add_parser("agents", help="human support agents")
    actions = agents.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create an agent and print its API token once")
    create.add_argument("--name", required=True, help="display name shown to users")
    create.add_argument(
        "--department",
        dest="departments",
        action="append",
        required=True,
        help="a department the agent serves (repeat for several)",
    )
    actions.add_parser("list", help="list agents (without tokens)")
    return parser


async def _run(args: argparse.Namespace, settings: MongoSettings) -> int:
    client = connect_mongo(settings, app_name="baton-queue-cli")
    try:
        store = MongoAgents(database(client, settings))
        await store.ensure_indexes()
        if args.action == "create":
            created = await Agents(store).create(args.name, args.departments)
            agent = created.agent
            print(f"agent_id: {agent.agent_id}", file=sys.stderr)
            print(f"name: {agent.name}", file=sys.stderr)
            print(f"departments: {', '.join(agent.departments)}", file=sys.stderr)
            print("token (shown only now; store it safely):", file=sys.stderr)
            print(created.token)
            return 0
        for record in await store.all():
            agent = record.agent
            departments = ",".join(agent.departments)
            print(f"{agent.agent_id}\t{agent.name}\t{departments}\tactive={record.active}")
        return 0
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args, MongoSettings()))
    except InvalidAgentError as exc:
        print(f"baton-queue: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
