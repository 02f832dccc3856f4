"""Recognising, signalling and waiting for the servers' processes, and their ports."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .settings import HOST


def _proc_status(pid: int) -> tuple[str, str] | None:
    """(state letter, command line) of ``pid``, or None if there is no such process."""
    proc = Path(f"/proc/{pid}")
    if Path("/proc/self").exists():
        try:
            state = proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0]
            cmdline = proc.joinpath("cmdline").read_bytes().replace(b"\0", b" ")
        except (OSError, IndexError):
            return None
        return state, cmdline.decode(errors="replace")
    result = subprocess.run(  # noqa: S603 - fixed argv
        ["ps", "-o", "stat=", "-o", "command=", "-p", str(pid)],  # noqa: S607 - ps is on every PATH
        capture_output=True,
        text=True,
        check=False,
    )
    parts = result.stdout.strip().split(None, 1)
    return (parts[0][:1], parts[1]) if len(parts) == 2 else None


@dataclass(frozen=True)
class Signature:
    """How to recognise one of the stack's servers: program name and a part of its command
    line that names this stack's directory.

    Checked before trusting a pid file (pids get recycled after a crash or reboot), and used
    to find a server whose pid file was lost.
    """

    program: str
    marker: str

    def matches_command(self, command: str) -> bool:
        argv0, _, _ = command.partition(" ")
        return os.path.basename(argv0) == self.program and self.marker in command

    def matches(self, pid: int) -> bool:
        status = _proc_status(pid)
        if status is None or status[0] in ("Z", "X"):  # zombies have exited already
            return False
        return self.matches_command(status[1])

    def find(self) -> int | None:
        """Scan the process table (Linux only) for a matching process."""
        if not Path("/proc/self").exists():
            return None
        pids = sorted(int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit())
        return next((pid for pid in pids if pid != os.getpid() and self.matches(pid)), None)


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def write_pid(pid_file: Path, pid: int) -> None:
    pid_file.write_text(f"{pid}\n")


def wait_for_exit(pid: int, signature: Signature, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while signature.matches(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def signal_process(pid: int, sig: signal.Signals) -> None:
    # The servers lead their own session (start_new_session), so the group is theirs alone.
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The option servers use, so that sockets lingering in TIME_WAIT do not count as taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True
