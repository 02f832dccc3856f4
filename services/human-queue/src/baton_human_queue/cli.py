"""``baton-queue``: manage human agents from a shell, straight against MongoDB.

    baton-queue agents create --name Alex --department billing [--department support]
    baton-queue agents list
    baton-queue agents update AGENT_ID [--department D ...] [--role R] [--capacity N|default]
                                       [--activate | --deactivate]
    baton-queue agents rotate-token AGENT_ID
    baton-queue canned create|list|update|delete ...   (see cli_canned)
    baton-queue satisfaction [--since ...] [--until ...] [--json]   (see cli_satisfaction)

MongoDB comes from ``MONGODB_URL`` / ``MONGODB_DATABASE``, as for the service. The new
agent's token is printed once, on stdout; nothing else prints it again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from baton_contracts import utc_now
from baton_runtime import MongoSettings, connect_mongo, database

from .agents import Agents, InvalidAgentError, check_agent
from .cli_canned import add_canned_commands, run_canned
from .cli_satisfaction import add_satisfaction_command, run_satisfaction
from .domain import ROLES, QueueError
from .ports import AgentChanges
from .staffing import InvalidCapacityError, check_capacity
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
    create.add_argument("--role", choices=ROLES, default="agent")
    create.add_argument(
        "--capacity", type=int, help="most tickets held at once (default: configured)"
    )
    actions.add_parser("list", help="list agents (without tokens)")
    update = actions.add_parser(
        "update",
        help="change an agent; --deactivate stops its token at once (the service's sweep "
        "puts its tickets back in the queue)",
    )
    update.add_argument("agent_id")
    update.add_argument("--department", dest="departments", action="append")
    update.add_argument("--role", choices=ROLES)
    update.add_argument("--capacity", help="a number, or `default`")
    active = update.add_mutually_exclusive_group()
    active.add_argument("--activate", dest="active", action="store_const", const=True)
    active.add_argument("--deactivate", dest="active", action="store_const", const=False)
    rotate = actions.add_parser("rotate-token", help="print a new token once; the old one stops")
    rotate.add_argument("agent_id")
    add_canned_commands(commands)
    add_satisfaction_command(commands)
    return parser


async def _run(args: argparse.Namespace, settings: MongoSettings) -> int:
    client = connect_mongo(settings, app_name="baton-queue-cli")
    try:
        if args.group == "canned":
            return await run_canned(args, database(client, settings))
        if args.group == "satisfaction":
            return await run_satisfaction(args, database(client, settings))
        store = MongoAgents(database(client, settings))
        await store.ensure_indexes()
        if args.action == "update":
            return await _update(store, args)
        if args.action == "rotate-token":
            token = await Agents(store).rotate_token(args.agent_id)
            if token is None:
                print(f"baton-queue: agent {args.agent_id!r} does not exist", file=sys.stderr)
                return 2
            print("token (shown only now; store it safely):", file=sys.stderr)
            print(token)
            return 0
        if args.action == "create":
            created = await Agents(store).create(
                args.name, args.departments, role=args.role, capacity=args.capacity
            )
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
            print(
                f"{agent.agent_id}\t{agent.name}\t{departments}\trole={agent.role}"
                f"\tcapacity={agent.capacity or 'default'}\tactive={record.active}"
            )
        return 0
    finally:
        await client.close()


async def _update(store: MongoAgents, args: argparse.Namespace) -> int:
    departments = None
    if args.departments:
        departments = check_agent("-", args.departments)[1]
    default = args.capacity == "default"
    if not (default or args.capacity is None or str(args.capacity).isdigit()):
        raise InvalidCapacityError("--capacity takes a number or `default`")
    capacity = None if default or args.capacity is None else check_capacity(int(args.capacity))
    changes = AgentChanges(
        departments=departments,
        role=args.role,
        capacity=capacity,
        default_capacity=default,
        active=args.active,
    )
    # No Kafka here: the service's sweep returns a deactivated agent's tickets to the queue.
    changed = await store.change(args.agent_id, changes, now=utc_now(), follow_ups=())
    if changed is None:
        print(f"baton-queue: agent {args.agent_id!r} does not exist", file=sys.stderr)
        return 2
    agent = changed.agent
    print(
        f"{agent.agent_id}\t{agent.name}\t{','.join(agent.departments)}\trole={agent.role}"
        f"\tcapacity={agent.capacity or 'default'}\tactive={changed.active}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_run(args, MongoSettings()))
    except (InvalidAgentError, QueueError) as exc:
        print(f"baton-queue: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
