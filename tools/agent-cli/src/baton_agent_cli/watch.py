"""``baton-agent watch``: the live stream of the tickets you may see, one line per change.

The same flow as the console: the agent token buys a short-lived, single-use stream ticket
(``POST /v1/agents/me/stream-ticket``), which opens the stream (``GET
/v1/agents/me/stream?ticket=...``); the token itself never goes into a URL. When the stream
ends or breaks, a new ticket opens a new one, after a pause that grows while it keeps
failing.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import httpx

from .api import Api, Json
from .config import Login
from .errors import CliError

STREAM_TICKET = "/v1/agents/me/stream-ticket"
STREAM = "/v1/agents/me/stream"
CONNECT_TIMEOUT_S = 15.0
BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class Sse:
    event: str
    data: Json


def add_watch_command(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    watch = command("watch", "print each change of the tickets you may see, as it happens")
    watch.add_argument(
        "--count",
        type=int,
        metavar="N",
        help="stop after N ticket changes (else run until Ctrl-C)",
    )


def events(lines: Iterator[str]) -> Iterator[Sse]:
    """Server-sent events from a stream's lines; comment lines (keep-alives) are skipped."""
    event, data = "message", list[str]()
    for line in lines:
        if line.startswith(":"):
            continue
        if line == "":
            if data:
                yield Sse(event, json.loads("\n".join(data)))
            event, data = "message", []
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)


def line_of(event: Sse, *, me: str | None) -> str:
    """One line of text per event; a change names the ticket, what changed and its thread."""
    d = event.data
    if event.event == "ticket":
        at = d.get("updated_at", "")[11:19]
        holder = d.get("holder_id")
        held = "you" if holder is not None and holder == me else holder or "-"
        return (
            f"{at}  {d['change']:<7}  {d['ticket_id']}  {d['kind']:<12} {d['status']:<8} "
            f"dept={d.get('department') or '-'}  holder={held}  thread={d['thread_id']}"
        )
    if event.event == "resync":
        return f"resync ({d.get('reason')}): refetch the queue (baton-agent queue)"
    return f"{event.event} {json.dumps(d, separators=(',', ':'))}"


def watch_command(
    login: Login,
    args: argparse.Namespace,
    out: TextIO,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Print changes until ``--count`` of them came (0) or the agent was revoked (error);
    a broken stream is opened again."""
    left: int | None = args.count
    failures = 0
    me: str | None = None
    with (
        Api(login, transport=transport) as api,
        httpx.Client(
            base_url=login.url,
            transport=transport,
            timeout=httpx.Timeout(CONNECT_TIMEOUT_S, read=None),
        ) as http,
    ):
        while True:
            try:
                for event in _stream(api, http):
                    failures = 0
                    if event.event == "ready":
                        me = event.data.get("agent_id")
                        print(f"# watching as {me}", file=out, flush=True)
                        continue
                    if event.event == "end":
                        if event.data.get("reason") == "revoked":
                            raise CliError("the stream ended: your token was revoked")
                        break  # the stream's time is up: a new one, at once
                    _print(event, out, args.json, me=me)
                    if event.event == "ticket" and left is not None:
                        left -= 1
                        if left <= 0:
                            return 0
                else:
                    raise _LostError("the server closed the stream")
            except (_LostError, httpx.HTTPError) as exc:
                pause = BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]
                failures += 1
                print(f"# stream lost ({exc}); again in {pause:g} s", file=out, flush=True)
                sleep(pause)


class _LostError(Exception):
    pass


def _print(event: Sse, out: TextIO, as_json: bool, *, me: str | None) -> None:
    if as_json:
        print(json.dumps({"event": event.event, **event.data}), file=out, flush=True)
    else:
        print(line_of(event, me=me), file=out, flush=True)


def _stream(api: Api, http: httpx.Client) -> Iterator[Sse]:
    ticket = api.post(STREAM_TICKET)["ticket"]
    with http.stream("GET", STREAM, params={"ticket": ticket}) as response:
        if response.is_error:
            response.read()
            raise CliError(_detail(response))
        yield from events(response.iter_lines())


def _detail(response: httpx.Response) -> str:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    return f"{response.status_code} {response.reason_phrase}"
