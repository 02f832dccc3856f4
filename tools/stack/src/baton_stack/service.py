"""One server of the stack: how to install, launch, recognise, probe and stop it."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ProbeError, StackError
from .logs import file_size, say, timestamp, with_log_tail
from .prerequisites import Tool
from .processes import (
    Signature,
    port_is_free,
    read_pid,
    signal_process,
    wait_for_exit,
    write_pid,
)
from .settings import HOST, Settings

STOP_GRACE_SECONDS = 30.0
PROBE_INTERVAL_SECONDS = 0.25


@dataclass
class Service:
    name: str
    settings: Settings
    ports: Mapping[int, str]  # port -> the environment variable that sets it
    address: str
    signature: Signature
    probe: Callable[[], None]  # raises ProbeError unless the server answers
    is_installed: Callable[[], bool]
    install: Callable[[], None]
    launch_argv: Callable[[], list[str]]  # also writes the configuration the server reads
    install_tools: frozenset[Tool] = frozenset()
    run_tools: frozenset[Tool] = frozenset()
    extra_logs: tuple[Path, ...] = ()
    log_marks: dict[Path, int] = field(default_factory=dict)  # log sizes at the last launch

    @property
    def pid_file(self) -> Path:
        return self.settings.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.settings.logs_dir / f"{self.name}.out"

    def running_pid(self) -> int | None:
        pid = read_pid(self.pid_file)
        if pid is not None and self.signature.matches(pid):
            return pid
        found = self.signature.find()
        if found is not None:  # running, but its pid file was lost: record it again
            with contextlib.suppress(OSError):
                write_pid(self.pid_file, found)
        return found

    def answers(self) -> str | None:
        """None if the server answers, else why not."""
        try:
            self.probe()
        except ProbeError as exc:
            return str(exc)
        return None

    def needed_tools(self) -> frozenset[Tool]:
        return self.run_tools | (frozenset() if self.is_installed() else self.install_tools)

    def failure(self, message: str) -> StackError:
        logs = {log: self.log_marks.get(log, 0) for log in (self.log_file, *self.extra_logs)}
        return StackError(with_log_tail(f"{self.name}: {message}", logs))

    def port_problems(self) -> list[str]:
        return [
            f"{self.name}: port {HOST}:{port} is already in use by a process that is not this "
            f"stack's {self.name}; stop that process or set {variable} to another port"
            for port, variable in self.ports.items()
            if not port_is_free(port)
        ]

    def wait_for_ports(self) -> list[str]:
        """The port problems still there after waiting ``port_wait_s`` for them to clear."""
        deadline = time.monotonic() + self.settings.port_wait_s
        while (problems := self.port_problems()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return problems

    def launch(self) -> subprocess.Popen[bytes]:
        """Start the server detached from this CLI: own session, output to its log file."""
        problems = self.wait_for_ports()
        if problems:
            raise StackError("\n".join(problems))
        argv = self.launch_argv()
        with self.log_file.open("ab") as log:
            log.write(f"\n=== {timestamp()} starting: {' '.join(argv)}\n".encode())
            log.flush()
            self.log_marks = {path: file_size(path) for path in (self.log_file, *self.extra_logs)}
            process = subprocess.Popen(  # noqa: S603 - argv built by this package
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.settings.logs_dir,
                start_new_session=True,
            )
        write_pid(self.pid_file, process.pid)
        say(f"{self.name}: started (pid {process.pid}), log: {self.log_file}")
        return process

    def wait_until_answering(self, process: subprocess.Popen[bytes] | None, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if process is not None and process.poll() is not None:
                raise self.failure(f"exited with code {process.returncode} while starting")
            problem = self.answers()
            if problem is None:
                return
            if time.monotonic() > deadline:
                raise self.failure(f"did not answer within {timeout:.0f} s (last error: {problem})")
            time.sleep(PROBE_INTERVAL_SECONDS)

    def stop(self, *, quiet: bool = False) -> None:
        """SIGTERM, then SIGKILL if it is still running after ``STOP_GRACE_SECONDS``."""
        pid = self.running_pid()
        if pid is None:
            if not quiet:
                say(f"{self.name}: not running")
        else:
            say(f"{self.name}: stopping (pid {pid})")
            signal_process(pid, signal.SIGTERM)
            if not wait_for_exit(pid, self.signature, STOP_GRACE_SECONDS):
                say(f"{self.name}: still running after {STOP_GRACE_SECONDS:.0f} s, killing it")
                signal_process(pid, signal.SIGKILL)
                wait_for_exit(pid, self.signature, 10)
        self.pid_file.unlink(missing_ok=True)

    def bring_up(self, timeout: float) -> bool:
        """Make the server answer; True if this call had to start it."""
        if self.running_pid() is not None:
            # Running but not answering yet, e.g. started by an earlier `up` that was interrupted.
            try:
                self.wait_until_answering(None, timeout)
            except StackError as exc:
                raise StackError(
                    f"{exc}\n(it was already running; `down` then `up` restarts it)"
                ) from exc
            return False
        self.pid_file.unlink(missing_ok=True)
        if not self.is_installed():
            self.install()
        process = self.launch()
        try:
            self.wait_until_answering(process, timeout)
        except StackError:
            self.stop(quiet=True)
            raise
        return True
