"""Progress for humans on stderr, and the log files of installs and servers."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from .errors import StackError

LOG_TAIL_LINES = 40

_print_lock = threading.Lock()


def say(message: str) -> None:
    """Always stderr, so that stdout stays machine-readable."""
    with _print_lock:
        print(f"[stack] {message}", file=sys.stderr, flush=True)


def timestamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def tail(path: Path, start: int = 0, lines: int = LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines written to ``path`` after byte ``start``."""
    try:
        with path.open("rb") as handle:
            # A file smaller than the mark has been rotated since: show all of it.
            handle.seek(start if file_size(path) >= start else 0)
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def with_log_tail(message: str, logs: Mapping[Path, int]) -> str:
    """``message`` followed by what each log received since its mark (a byte offset)."""
    for log, start in logs.items():
        excerpt = tail(log, start)
        if excerpt.strip():
            message += f"\n--- last lines of {log} ---\n{excerpt}"
    return message


def run_logged(argv: Sequence[str], log: Path, *, cwd: Path, what: str) -> str:
    """Run an install step, appending its output to ``log``; return its stdout."""
    with log.open("ab") as sink:
        sink.write(f"\n=== {timestamp()} $ {' '.join(argv)}\n".encode())
        sink.flush()
        mark = file_size(log)
        try:
            result = subprocess.run(  # noqa: S603 - argv built by this package
                argv, cwd=cwd, stdout=subprocess.PIPE, stderr=sink, check=False
            )
        except OSError as exc:
            raise StackError(f"{what} failed: {exc}") from exc
        sink.write(result.stdout)
    if result.returncode != 0:
        raise StackError(
            with_log_tail(f"{what} failed (exit code {result.returncode})", {log: mark})
        )
    return result.stdout.decode(errors="replace")
