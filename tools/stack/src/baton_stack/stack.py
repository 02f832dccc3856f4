"""The stack as a whole: its servers, started in parallel, stopped in reverse order, one
``up`` or ``down`` at a time."""

from __future__ import annotations

import contextlib
import fcntl
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from . import kafka, mongo_java_server
from .errors import StackError
from .logs import say
from .prerequisites import Tool, tool_problems
from .service import Service
from .settings import Settings

# The one MongoDB-wire server the local stack runs; real MongoDB comes through Docker.
MONGO_SERVER = mongo_java_server.NAME


def services(settings: Settings) -> list[Service]:
    return [kafka.service(settings), mongo_java_server.service(settings)]


@contextlib.contextmanager
def lock(settings: Settings) -> Iterator[None]:
    """Serialise up and down, e.g. when several test sessions run ``up`` at the same time."""
    settings.ensure_dirs()
    with (settings.run_dir / "stack.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another up or down of this stack to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _all_answering(stack: list[Service]) -> bool:
    return all(s.running_pid() is not None and s.answers() is None for s in stack)


def start(settings: Settings, timeout: float) -> bool:
    """Bring every server up, in parallel; True if any had to be started."""
    stack = services(settings)
    if _all_answering(stack):
        return False
    problems: list[str] = []
    tools: set[Tool] = set()
    for service in stack:
        if service.running_pid() is None:
            problems += service.wait_for_ports()
            tools |= service.needed_tools()
    problems += tool_problems(tools)
    if problems:
        raise StackError("cannot start the stack:\n" + "\n".join(f"  - {p}" for p in problems))
    with ThreadPoolExecutor(max_workers=len(stack)) as pool:
        futures = [pool.submit(service.bring_up, timeout) for service in stack]
    failures = [exc for exc in (f.exception() for f in futures) if exc is not None]
    for exc in failures:
        if not isinstance(exc, StackError):
            raise exc
    if failures:
        raise StackError("\n".join(str(exc) for exc in failures))
    return any(f.result() for f in futures)


def stop(settings: Settings, *, purge: bool) -> None:
    """Stop every server; with ``purge``, also delete the data and logs (not the installs)."""
    for service in reversed(services(settings)):
        service.stop()
    if purge:
        for path in (settings.data_dir, settings.logs_dir):
            if path.exists():
                say(f"deleting {path}")
                shutil.rmtree(path)
