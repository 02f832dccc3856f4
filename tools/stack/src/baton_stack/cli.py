"""``python -m baton_stack up|down|status|env``: Baton's local Kafka and MongoDB-wire server,
without Docker.

* ``up [--json] [--timeout S]``: install what is missing, start what is not running, wait
  until both answer. Prints ``KAFKA_BOOTSTRAP_SERVERS=...`` and ``MONGODB_URL=...`` lines on
  stdout, or with ``--json`` exactly one line ``{"kafka_bootstrap_servers": ...,
  "mongodb_url": ..., "mongo_server": "mongo-java-server", "started": bool}`` (``started`` is
  false when everything was already running).
* ``down [--purge]``: stop both (SIGTERM, then SIGKILL after 30 s); ``--purge`` also deletes
  their data and logs.
* ``status``: exit 0 if both answer, 1 otherwise.
* ``env``: print the two lines ``up`` prints.

Progress and errors go to stderr. The environment variables are described in
:mod:`baton_stack.settings`.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence

from . import stack
from .errors import StackError
from .logs import say
from .processes import port_is_free
from .settings import Settings

PROG = "python -m baton_stack"


def env_lines(settings: Settings) -> str:
    return (
        f"KAFKA_BOOTSTRAP_SERVERS={settings.kafka_bootstrap_servers}\n"
        f"MONGODB_URL={settings.mongodb_url}"
    )


def up_json(settings: Settings, *, started: bool) -> str:
    return json.dumps(
        {
            "kafka_bootstrap_servers": settings.kafka_bootstrap_servers,
            "mongodb_url": settings.mongodb_url,
            "mongo_server": stack.MONGO_SERVER,
            "started": started,
        }
    )


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    began = time.monotonic()
    timeout: float = settings.up_timeout_s if args.timeout is None else args.timeout
    with stack.lock(settings):
        started = stack.start(settings, timeout)
    elapsed = time.monotonic() - began
    say(
        f"stack up in {elapsed:.1f} s"
        if started
        else f"stack already running (checked in {elapsed:.1f} s)"
    )
    say(
        f"kafka: {settings.kafka_bootstrap_servers}   "
        f"mongodb: {settings.mongodb_url} ({stack.MONGO_SERVER})"
    )
    print(up_json(settings, started=started) if args.json else env_lines(settings))
    return 0


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    with stack.lock(settings):
        stack.stop(settings, purge=args.purge)
    return 0


def cmd_status(settings: Settings, _args: argparse.Namespace) -> int:
    healthy = True
    for service in stack.services(settings):
        pid = service.running_pid()
        problem = service.answers() if pid is not None else None
        if pid is None:
            taken = [p for p in service.ports if not port_is_free(p)]
            state = "not running" + (
                f" (port {taken[0]} is used by another process)" if taken else ""
            )
        elif problem is None:
            state = f"running (pid {pid}), answering at {service.address}"
        else:
            state = f"running (pid {pid}), NOT answering at {service.address}: {problem}"
        healthy = healthy and pid is not None and problem is None
        print(f"{service.name}: {state}")
    return 0 if healthy else 1


def cmd_env(settings: Settings, _args: argparse.Namespace) -> int:
    print(env_lines(settings))
    return 0


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Baton's local Kafka and MongoDB-wire server, without Docker."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="install what is missing, start, wait until answering")
    up.add_argument("--json", action="store_true", help="print one JSON line on stdout")
    up.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds to wait for a started server to answer (env BATON_STACK_TIMEOUT, default 90)",
    )
    up.set_defaults(handler=cmd_up)
    down = commands.add_parser("down", help="stop both servers (data is kept)")
    down.add_argument(
        "--purge", action="store_true", help="also delete data and logs (not the installs)"
    )
    down.set_defaults(handler=cmd_down)
    commands.add_parser("status", help="exit 0 if both servers answer").set_defaults(
        handler=cmd_status
    )
    commands.add_parser("env", help="print KAFKA_BOOTSTRAP_SERVERS and MONGODB_URL").set_defaults(
        handler=cmd_env
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Probe failures are reported through their exceptions; without a handler here, aiokafka's
    # log of every refused connection while a broker starts would reach stderr.
    logging.getLogger("aiokafka").addHandler(logging.NullHandler())
    try:
        settings = Settings.from_env()
        handler: Callable[[Settings, argparse.Namespace], int] = args.handler
        return handler(settings, args)
    except StackError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
