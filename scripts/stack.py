#!/usr/bin/env python3
"""Run Baton's local Kafka + MongoDB-wire stack without Docker.

Installs and runs, as detached background processes bound to 127.0.0.1:

* Apache Kafka 3.9.2 in KRaft combined mode (one broker+controller), from its Maven Central
  jars on the installed Java (17+); the jars are resolved with Maven.
* a MongoDB-wire server, chosen by ``BATON_MONGO_SERVER``:

  - ``mongo-java-server`` (the default): mongo-java-server 1.47.0 with its H2 MVStore backend
    (one file), from its Maven Central jars on the same Java, started through
    ``scripts/mongo-java-server/BatonMongoServer.java``;
  - ``ferretdb``: FerretDB v1.24.0 with its SQLite backend, built from Go source (Go 1.24+)
    with one fix applied (see ``FERRETDB_PATCHES``).

Commands::

    python scripts/stack.py up [--json] [--timeout S]   install what is missing, start what is
                                                       not running, wait until both answer
    python scripts/stack.py down [--purge]             stop both (SIGTERM, then SIGKILL after
                                                       30 s); --purge also deletes data and logs
    python scripts/stack.py status                     exit 0 if both answer, 1 otherwise
    python scripts/stack.py env                        print KAFKA_BOOTSTRAP_SERVERS=... and
                                                       MONGODB_URL=... lines

``up`` prints the same two lines as ``env`` on stdout, or with ``--json`` exactly one line
``{"kafka_bootstrap_servers": ..., "mongodb_url": ..., "mongo_server": ..., "started": bool}``
(``started`` is false when everything was already running). Progress and errors go to stderr.

"Answering" means a real request, made with the small stdlib clients at the end of this file
(no aiokafka, pymongo or JVM needed, so they work before the project's virtualenv exists and
take milliseconds, which lets ``up`` return at once when the stack is already running):

* Kafka: fetch metadata for the ``baton-stack-probe`` topic (auto-creating it), produce one
  record to it and fetch it back, then ask for a consumer-group coordinator, which makes the
  broker create ``__consumer_offsets`` so the first real consumer group does not wait for it. Only old,
  non-flexible request versions are used (Metadata v4, Produce v3, Fetch v4, FindCoordinator
  v1): Kafka 3.x and 4.x both serve them (KIP-896) and none needs tagged fields.
* the MongoDB server: ``{ping: 1, $db: "admin"}`` as an ``OP_MSG``; the reply must say
  ``ok: 1``.

Environment variables:

* ``BATON_STACK_DIR`` - where downloads, builds, data, logs and pid files live
  (default: ``.stack/`` at the repository root; it ignores itself for git).
* ``BATON_KAFKA_PORT`` (9092), ``BATON_KAFKA_CONTROLLER_PORT`` (9093),
  ``BATON_MONGO_PORT`` (27017) - listening ports.
* ``BATON_MONGO_SERVER`` - ``mongo-java-server`` (default) or ``ferretdb``.
* ``BATON_STACK_TIMEOUT`` - seconds ``up`` waits for a started server to answer (90).
* ``BATON_STACK_PORT_WAIT_S`` - seconds ``up`` waits for a port held by another process to
  be released before it reports the port as taken (20).

Layout of the stack directory: ``kafka-<version>/``, ``mongo-java-server-<version>/`` and
``ferretdb-<version>/`` are caches reused across runs; ``data/`` holds the Kafka log dirs and
the MongoDB server's files (kept by ``down``, removed by ``down --purge``); ``conf/``,
``logs/`` and ``run/`` (pid files, lock).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import itertools
import json
import os
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

KAFKA_VERSION = "3.9.2"
SCALA_VERSION = "2.13"
SLF4J_VERSION = "1.7.36"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
MONGO_JAVA_SERVER_VERSION = "1.47.0"
SLF4J_SIMPLE_VERSION = "2.0.17"
# How long mongo-java-server may hold acknowledged writes before they reach its file (ms),
# like MongoDB's journal commit interval.
MONGO_JAVA_SERVER_COMMIT_MS = 100
FERRETDB_MODULE = "github.com/FerretDB/FerretDB"
FERRETDB_VERSION = "v1.24.0"
MIN_JAVA = 17
MIN_GO = (1, 24)
HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 30.0
# How long a port taken by something else may stay taken before `up` gives up: a socket
# of a client that was talking to the stopped server can hold it for a moment.
PORT_WAIT_SECONDS = 20.0
LOG_TAIL_LINES = 40

SCRIPTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = SCRIPTS_DIR.parent
FERRETDB_TEMPLATE_DIR = SCRIPTS_DIR / "ferretdb"
MONGO_JAVA_SERVER_LAUNCHER = SCRIPTS_DIR / "mongo-java-server" / "BatonMongoServer.java"
# The MongoDB-wire servers the stack can run (``BATON_MONGO_SERVER``); the first is the default.
MONGO_SERVERS = ("mongo-java-server", "ferretdb")


class StackError(Exception):
    """A failure to report to the user as-is, without a traceback."""


_print_lock = threading.Lock()


def say(message: str) -> None:
    """Progress for humans: always stderr, so stdout stays machine-readable."""
    with _print_lock:
        print(f"[stack] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- configuration


def _env_port(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise StackError(f"{name}={raw!r} is not a TCP port number")
    return int(raw)


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise StackError(f"{name}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise StackError(f"{name} must be positive")
    return value


def _env_choice(name: str, choices: Sequence[str]) -> str:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return choices[0]
    if raw not in choices:
        raise StackError(f"{name}={raw!r} is not one of: {', '.join(choices)}")
    return raw


@dataclass(frozen=True)
class Settings:
    stack_dir: Path
    kafka_port: int
    controller_port: int
    mongo_port: int
    port_wait_s: float = PORT_WAIT_SECONDS
    mongo_server: str = MONGO_SERVERS[0]

    @classmethod
    def from_env(cls) -> Settings:
        raw_dir = os.environ.get("BATON_STACK_DIR", "").strip()
        settings = cls(
            stack_dir=Path(raw_dir).expanduser().resolve() if raw_dir else REPO_ROOT / ".stack",
            kafka_port=_env_port("BATON_KAFKA_PORT", 9092),
            controller_port=_env_port("BATON_KAFKA_CONTROLLER_PORT", 9093),
            mongo_port=_env_port("BATON_MONGO_PORT", 27017),
            port_wait_s=_env_seconds("BATON_STACK_PORT_WAIT_S", PORT_WAIT_SECONDS),
            mongo_server=_env_choice("BATON_MONGO_SERVER", MONGO_SERVERS),
        )
        ports = [settings.kafka_port, settings.controller_port, settings.mongo_port]
        if len(set(ports)) != len(ports):
            raise StackError(
                f"the Kafka, Kafka controller and MongoDB ports must differ, got {ports}"
            )
        return settings

    @property
    def kafka_bootstrap_servers(self) -> str:
        return f"{HOST}:{self.kafka_port}"

    @property
    def mongodb_url(self) -> str:
        return f"mongodb://{HOST}:{self.mongo_port}/"

    @property
    def run_dir(self) -> Path:
        return self.stack_dir / "run"

    @property
    def logs_dir(self) -> Path:
        return self.stack_dir / "logs"

    @property
    def data_dir(self) -> Path:
        return self.stack_dir / "data"

    @property
    def conf_dir(self) -> Path:
        return self.stack_dir / "conf"


def ensure_stack_dir(settings: Settings) -> None:
    for path in (settings.run_dir, settings.logs_dir, settings.data_dir, settings.conf_dir):
        path.mkdir(parents=True, exist_ok=True)
    # Keeps the whole folder out of git even where the repository's .gitignore lacks it.
    ignore = settings.stack_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")


# --------------------------------------------------------------------------- small helpers


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


def with_log_tail(message: str, logs: dict[Path, int]) -> str:
    """Append what each log received since its mark (a byte offset) to ``message``."""
    for log, start in logs.items():
        excerpt = tail(log, start)
        if excerpt.strip():
            message += f"\n--- last lines of {log} ---\n{excerpt}"
    return message


def force_rmtree(path: Path) -> None:
    """Remove a tree even if parts of it are read-only (Go's module cache copies are)."""
    if not path.exists():
        return
    for root, dirs, _files in os.walk(path):
        for name in dirs:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(root, name), stat.S_IRWXU)
    shutil.rmtree(path)


def make_writable(path: Path) -> None:
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            target = os.path.join(root, name)
            os.chmod(target, os.stat(target).st_mode | stat.S_IWUSR)
    os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)


def run_logged(
    argv: Sequence[str], log: Path, *, cwd: Path, what: str, env: dict[str, str] | None = None
) -> str:
    """Run a build step, appending its output to ``log``; return its stdout."""
    with log.open("ab") as sink:
        sink.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} $ {' '.join(argv)}\n".encode())
        sink.flush()
        mark = file_size(log)
        try:
            result = subprocess.run(
                argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=sink, check=False
            )
        except OSError as exc:
            raise StackError(f"{what} failed: {exc}") from exc
        sink.write(result.stdout)
    if result.returncode != 0:
        raise StackError(
            with_log_tail(f"{what} failed (exit code {result.returncode})", {log: mark})
        )
    return result.stdout.decode(errors="replace")


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option servers use, so sockets lingering in TIME_WAIT do not count as "taken".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


# --------------------------------------------------------------------------- tools


@dataclass(frozen=True)
class Tool:
    name: str
    hint: str


JAVA = Tool(
    "java",
    f"install a JDK {MIN_JAVA}+ (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless; "
    "macOS: brew install openjdk@17) or set JAVA_HOME",
)
MAVEN = Tool(
    "mvn",
    "install Apache Maven 3.6+ (Debian/Ubuntu: apt-get install maven; macOS: brew install maven)",
)
GO = Tool(
    "go",
    f"install Go {MIN_GO[0]}.{MIN_GO[1]}+ from https://go.dev/dl/ (distribution packages are often "
    "older; macOS: brew install go)",
)


def java_executable() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def _java_problem() -> str | None:
    java = java_executable()
    if java is None:
        return "not found"
    try:
        result = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {java}: {exc}"
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if not match:
        return f"cannot tell the version of {java}"
    major = int(match.group(2) or 0) if match.group(1) == "1" else int(match.group(1))
    return None if major >= MIN_JAVA else f"{java} is Java {major}"


def _go_problem() -> str | None:
    go = shutil.which("go")
    if go is None:
        return "not found"
    try:
        result = subprocess.run(
            [go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {go}: {exc}"
    match = re.match(r"go(\d+)\.(\d+)", result.stdout.strip())
    if not match:
        return None if result.stdout.startswith("devel") else f"cannot tell the version of {go}"
    version = (int(match.group(1)), int(match.group(2)))
    return None if version >= MIN_GO else f"{go} is {result.stdout.strip()}"


def _mvn_problem() -> str | None:
    return None if shutil.which("mvn") else "not found"


_PROBLEM_CHECKS: dict[Tool, Callable[[], str | None]] = {
    JAVA: _java_problem,
    MAVEN: _mvn_problem,
    GO: _go_problem,
}


def tool_problems(tools: set[Tool]) -> list[str]:
    problems = []
    for tool in sorted(tools, key=lambda t: t.name):
        problem = _PROBLEM_CHECKS[tool]()
        if problem:
            problems.append(f"{tool.name}: {problem}; {tool.hint}")
    return problems


# --------------------------------------------------------------------------- processes


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
    result = subprocess.run(
        ["ps", "-o", "stat=", "-o", "command=", "-p", str(pid)],
        capture_output=True,
        text=True,
        check=False,
    )
    parts = result.stdout.strip().split(None, 1)
    return (parts[0][:1], parts[1]) if len(parts) == 2 else None


@dataclass(frozen=True)
class Signature:
    """How to recognise one of our servers among all processes: program name + unique argument.

    Checked before trusting a pid file (pids get recycled after a crash or reboot) and used to
    find a server whose pid file was lost.
    """

    program: str
    marker: str  # a substring of the command line that contains this stack's directory

    def matches(self, pid: int) -> bool:
        status = _proc_status(pid)
        if status is None or status[0] in ("Z", "X"):  # zombies have exited already
            return False
        argv0, _, _ = status[1].partition(" ")
        return os.path.basename(argv0) == self.program and self.marker in status[1]

    def find(self) -> int | None:
        """Scan the process table (Linux only) for a matching process."""
        proc = Path("/proc")
        if not Path("/proc/self").exists():
            return None
        pids = sorted(int(entry.name) for entry in proc.iterdir() if entry.name.isdigit())
        return next((pid for pid in pids if pid != os.getpid() and self.matches(pid)), None)


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def wait_for_exit(pid: int, signature: Signature, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while signature.matches(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def signal_process(pid: int, sig: signal.Signals) -> None:
    # Our servers lead their own session (start_new_session), so the group is theirs alone.
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


# --------------------------------------------------------------------------- services


@dataclass
class Service:
    """One server of the stack: how to install it, launch it, recognise it and probe it."""

    name: str
    settings: Settings
    ports: dict[int, str]  # port -> the environment variable that sets it
    address: str
    signature: Signature
    probe: Callable[[], None]
    is_installed: Callable[[], bool]
    install: Callable[[], None]
    launch_argv: Callable[[], list[str]]
    install_tools: set[Tool]
    run_tools: set[Tool] = field(default_factory=set)
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
                self.pid_file.write_text(f"{found}\n")
        return found

    def answers(self) -> str | None:
        """None if the server answers, else why not."""
        try:
            self.probe()
        except ProbeError as exc:
            return str(exc)
        return None

    def needed_tools(self) -> set[Tool]:
        return self.run_tools | (set() if self.is_installed() else self.install_tools)

    def failure(self, message: str) -> StackError:
        logs = {log: self.log_marks.get(log, 0) for log in (self.log_file, *self.extra_logs)}
        return StackError(with_log_tail(f"{self.name}: {message}", logs))


# --------------------------------------------------------------------------- Kafka


def kafka_home(settings: Settings) -> Path:
    return settings.stack_dir / f"kafka-{KAFKA_VERSION}"


def kafka_libs(settings: Settings) -> Path:
    return kafka_home(settings) / "libs"


def _runtime_pom(name: str, deps: Sequence[tuple[str, str, str]]) -> str:
    dep_xml = "".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>\n"
        for g, a, v in deps
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>local.baton.stack</groupId>\n"
        f"  <artifactId>{name}</artifactId>\n"
        "  <version>1</version>\n"
        "  <packaging>pom</packaging>\n"
        f"  <dependencies>\n{dep_xml}  </dependencies>\n"
        "</project>\n"
    )


def install_jars(
    settings: Settings,
    home: Path,
    *,
    name: str,
    what: str,
    deps: Sequence[tuple[str, str, str]],
    version: str,
) -> None:
    """Resolve ``deps`` and everything they need at runtime from Maven Central into
    ``home/libs``; ``home/.installed`` records ``version`` once it is complete."""
    home.mkdir(parents=True, exist_ok=True)
    pom = home / "pom.xml"
    pom.write_text(_runtime_pom(f"{name}-runtime", deps))
    partial = home / "libs.partial"
    force_rmtree(partial)
    log = settings.logs_dir / f"{name}-install.log"
    say(f"{name}: resolving the {what} jars with Maven (first run only), log: {log}")
    run_logged(
        [
            "mvn",
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(pom),
            f"{MAVEN_DEPENDENCY_PLUGIN}:copy-dependencies",
            f"-DoutputDirectory={partial}",
            "-DincludeScope=runtime",
        ],
        log,
        cwd=home,
        what=f"resolving the {what} jars with Maven",
    )
    missing = [f"{a}-{v}.jar" for _, a, v in deps if not (partial / f"{a}-{v}.jar").is_file()]
    if missing:
        raise StackError(
            with_log_tail(f"Maven finished but {', '.join(missing)} is missing", {log: 0})
        )
    force_rmtree(home / "libs")
    partial.rename(home / "libs")
    (home / ".installed").write_text(f"{version}\n")


def marker_says(marker: Path, expected: str) -> bool:
    """Whether an install's completion marker exists and names ``expected``."""
    return marker.is_file() and marker.read_text().strip() == expected


def jars_installed(home: Path, version: str) -> bool:
    """Whether :func:`install_jars` completed ``version`` into ``home``."""
    return marker_says(home / ".installed", version)


def install_kafka(settings: Settings) -> None:
    install_jars(
        settings,
        kafka_home(settings),
        name="kafka",
        what=f"Kafka {KAFKA_VERSION}",
        deps=[
            ("org.apache.kafka", f"kafka_{SCALA_VERSION}", KAFKA_VERSION),
            ("org.slf4j", "slf4j-reload4j", SLF4J_VERSION),
        ],
        version=KAFKA_VERSION,
    )


def kafka_paths(settings: Settings) -> dict[str, Path]:
    return {
        "server_properties": settings.conf_dir / "kafka" / "server.properties",
        "log4j": settings.conf_dir / "kafka" / "log4j.properties",
        "log_dir": settings.data_dir / "kafka" / "logs",
        "cluster_id": settings.data_dir / "kafka" / "cluster-id",
        "server_log": settings.logs_dir / "kafka-server.log",
    }


def _kafka_server_properties(settings: Settings, log_dir: Path) -> str:
    plaintext = f"{HOST}:{settings.kafka_port}"
    controller = f"{HOST}:{settings.controller_port}"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{controller}",
        "listeners": f"PLAINTEXT://{plaintext},CONTROLLER://{controller}",
        "advertised.listeners": f"PLAINTEXT://{plaintext}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "3",
        "auto.create.topics.enable": "true",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        # Sized for a 2-core laptop rather than a production broker.
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
    }
    return "".join(f"{key}={value}\n" for key, value in props.items())


def _kafka_log4j(server_log: Path) -> str:
    quiet = [
        "kafka.request.logger",
        "state.change.logger",
        "kafka.controller",
        "org.apache.kafka.storage.internals.log",
        "org.apache.kafka.raft",
        "kafka.coordinator",
        "org.apache.kafka.coordinator",
        "org.apache.kafka.clients",
        "org.apache.kafka.common.utils.AppInfoParser",
        "kafka.server.metadata",
        "org.apache.kafka.controller",
        "org.apache.kafka.image",
        "kafka.log",
        "kafka.cluster",
    ]
    lines = [
        "log4j.rootLogger=INFO, file",
        "log4j.appender.file=org.apache.log4j.RollingFileAppender",
        f"log4j.appender.file.File={server_log}",
        "log4j.appender.file.MaxFileSize=10MB",
        "log4j.appender.file.MaxBackupIndex=2",
        "log4j.appender.file.layout=org.apache.log4j.PatternLayout",
        "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n",
        *(f"log4j.logger.{name}=WARN" for name in quiet),
    ]
    return "\n".join(lines) + "\n"


def _java_base(settings: Settings, log4j: Path) -> list[str]:
    java = java_executable() or "java"
    return [
        java,
        f"-Dlog4j.configuration=file:{log4j}",
        "-Djava.awt.headless=true",
        "-cp",
        f"{kafka_libs(settings)}/*",
    ]


def _kafka_cluster_id(path: Path) -> str:
    """The cluster id, created once per data dir (same shape as ``StorageTool random-uuid``)."""
    if path.is_file():
        return path.read_text().strip()
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):  # Kafka avoids these too: they read as CLI options
            break
    path.write_text(cluster_id + "\n")
    return cluster_id


def prepare_kafka(settings: Settings) -> list[str]:
    """Write the configuration, format storage on first use, return the broker's argv."""
    paths = kafka_paths(settings)
    paths["server_properties"].parent.mkdir(parents=True, exist_ok=True)
    paths["log_dir"].mkdir(parents=True, exist_ok=True)
    paths["server_properties"].write_text(_kafka_server_properties(settings, paths["log_dir"]))
    paths["log4j"].write_text(_kafka_log4j(paths["server_log"]))
    java = _java_base(settings, paths["log4j"])
    if not (paths["log_dir"] / "meta.properties").is_file():
        cluster_id = _kafka_cluster_id(paths["cluster_id"])
        say(f"kafka: formatting storage in {paths['log_dir']} (cluster id {cluster_id})")
        run_logged(
            [
                *java,
                "-Xmx256m",
                "-XX:TieredStopAtLevel=1",
                "kafka.tools.StorageTool",
                "format",
                "--ignore-formatted",
                "-t",
                cluster_id,
                "-c",
                str(paths["server_properties"]),
            ],
            settings.logs_dir / "kafka-install.log",
            cwd=settings.logs_dir,
            what="formatting Kafka storage",
        )
    return [
        *java,
        "-Xms256m",
        "-Xmx512m",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "kafka.Kafka",
        str(paths["server_properties"]),
    ]


def kafka_service(settings: Settings) -> Service:
    server_properties = kafka_paths(settings)["server_properties"]
    return Service(
        name="kafka",
        settings=settings,
        ports={
            settings.kafka_port: "BATON_KAFKA_PORT",
            settings.controller_port: "BATON_KAFKA_CONTROLLER_PORT",
        },
        address=settings.kafka_bootstrap_servers,
        signature=Signature("java", f"kafka.Kafka {server_properties}"),
        probe=lambda: kafka_round_trip(HOST, settings.kafka_port),
        is_installed=lambda: jars_installed(kafka_home(settings), KAFKA_VERSION),
        install=lambda: install_kafka(settings),
        launch_argv=lambda: prepare_kafka(settings),
        install_tools={MAVEN},
        run_tools={JAVA},
        extra_logs=(kafka_paths(settings)["server_log"],),
    )


# --------------------------------------------------------------------------- mongo-java-server


def mongo_java_server_home(settings: Settings) -> Path:
    return settings.stack_dir / f"mongo-java-server-{MONGO_JAVA_SERVER_VERSION}"


def install_mongo_java_server(settings: Settings) -> None:
    install_jars(
        settings,
        mongo_java_server_home(settings),
        name="mongo-java-server",
        what=f"mongo-java-server {MONGO_JAVA_SERVER_VERSION} (H2 backend)",
        deps=[
            ("de.bwaldvogel", "mongo-java-server-h2-backend", MONGO_JAVA_SERVER_VERSION),
            ("org.slf4j", "slf4j-simple", SLF4J_SIMPLE_VERSION),
        ],
        version=MONGO_JAVA_SERVER_VERSION,
    )


def mongo_java_server_store(settings: Settings) -> Path:
    # "-v2": the launcher stores documents as BSON and orders index entries by value; the
    # earlier launcher's store (baton.mv.db) cannot be read with it.
    return settings.data_dir / "mongo-java-server" / "baton-v2.mv.db"


def prepare_mongo_java_server(settings: Settings) -> list[str]:
    store = mongo_java_server_store(settings)
    store.parent.mkdir(parents=True, exist_ok=True)
    earlier = store.with_name("baton.mv.db")
    if earlier.exists():
        say(f"removing {earlier}: a store of the earlier launcher, which this one cannot read")
        earlier.unlink()
    java = java_executable() or "java"
    return [
        java,
        "-Xms256m",
        # Room for H2's garbage. It writes pages copy-on-write, so each change re-encodes a
        # page of up to 48 documents: about 35 MB a second at 48 msg/s. Each ZGC cycle keeps
        # one of the two CPUs busy for a few hundred milliseconds, which showed as a burst of
        # slow messages; with 3 GB rather than 1 GB a cycle comes a third as often. ZGC hands
        # back memory it has not used for five minutes (ZUncommit).
        "-Xmx3g",
        # ZGC collects while the server runs: a stop-the-world collection shows up directly
        # in the pipeline's tail latency. G1, even with a 20 ms pause goal, stopped it for a
        # median 26 ms several times a second under load (most young objects survive into
        # H2's copy-on-write pages), and its refinement threads cost more CPU than ZGC's
        # concurrent cycles do.
        "-XX:+UseZGC",
        "-XX:+ExitOnOutOfMemoryError",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        "-cp",
        f"{mongo_java_server_home(settings) / 'libs'}/*",
        # Java 11+ runs a single source file directly: nothing to compile at install time.
        str(MONGO_JAVA_SERVER_LAUNCHER),
        str(store),
        HOST,
        str(settings.mongo_port),
        str(MONGO_JAVA_SERVER_COMMIT_MS),
    ]


def mongo_java_server_service(settings: Settings) -> Service:
    return Service(
        name="mongo-java-server",
        settings=settings,
        ports={settings.mongo_port: "BATON_MONGO_PORT"},
        address=settings.mongodb_url,
        signature=Signature(
            "java", f"{MONGO_JAVA_SERVER_LAUNCHER.name} {mongo_java_server_store(settings)}"
        ),
        probe=lambda: mongo_ping(HOST, settings.mongo_port),
        is_installed=lambda: jars_installed(
            mongo_java_server_home(settings), MONGO_JAVA_SERVER_VERSION
        ),
        install=lambda: install_mongo_java_server(settings),
        launch_argv=lambda: prepare_mongo_java_server(settings),
        install_tools={MAVEN},
        run_tools={JAVA},
    )


# --------------------------------------------------------------------------- FerretDB


def ferretdb_home(settings: Settings) -> Path:
    return settings.stack_dir / f"ferretdb-{FERRETDB_VERSION}"


def ferretdb_binary(settings: Settings) -> Path:
    return ferretdb_home(settings) / "bin" / "ferretdb"


def _go_env() -> dict[str, str]:
    # No toolchain downloads: the proxy may be unreachable and the version was checked already.
    return {**os.environ, "GOTOOLCHAIN": "local"}


def _ferretdb_module_dir(build: Path, log: Path) -> Path:
    """Download the FerretDB module (by exact version: the proxy's version list is not needed)."""
    output = run_logged(
        ["go", "mod", "download", "-json", f"{FERRETDB_MODULE}@{FERRETDB_VERSION}"],
        log,
        cwd=build,
        env=_go_env(),
        what="downloading the FerretDB module",
    )
    info = json.loads(output)
    if info.get("Error") or not info.get("Dir"):
        raise StackError(
            f"downloading the FerretDB module failed: {info.get('Error', 'no directory')}"
        )
    return Path(info["Dir"])


# One fix applied to FerretDB's source before building it (file, text as released, fixed text).
# Its SQLite backend creates each collection's unique _id index on the expression
# `_ferretdb_sjson->"_id"` but looks documents up by `_ferretdb_sjson->'$._id'`; SQLite only
# uses an expression index for the very same expression, so every lookup by _id scanned the
# whole table. The fix makes the lookup name _id the way the index does (same JSON value).
FERRETDB_PATCHES = (
    (
        "internal/backends/sqlite/metadata/metadata.go",
        "IDColumn = DefaultColumn + \"->'$._id'\"",
        'IDColumn = DefaultColumn + `->"_id"`',
    ),
)
# Written beside the binary; a binary built without the current fixes is rebuilt.
FERRETDB_BUILD = f"{FERRETDB_VERSION}+baton.1"


def _prepare_ferretdb_source(module_dir: Path, src: Path) -> None:
    """Make a writable copy of the module, with the version file its release tooling generates
    and :data:`FERRETDB_PATCHES` applied.

    FerretDB embeds build/version/*.txt and panics at start unless version.txt holds its version;
    the file is not in the module zip and the module cache is read-only, hence the copy.
    """
    force_rmtree(src)
    shutil.copytree(module_dir, src, symlinks=True)
    make_writable(src)
    (src / "build" / "version" / "version.txt").write_text(f"{FERRETDB_VERSION}\n")
    for relative, released, fixed in FERRETDB_PATCHES:
        path = src / relative
        text = path.read_text()
        if text.count(released) != 1:
            raise StackError(f"cannot patch FerretDB: {released!r} not found once in {relative}")
        path.write_text(text.replace(released, fixed))


def ferretdb_build_marker(settings: Settings) -> Path:
    """Written after a successful build: which FerretDB build the binary is."""
    return ferretdb_binary(settings).with_name("ferretdb.build")


def ferretdb_installed(settings: Settings) -> bool:
    return ferretdb_binary(settings).is_file() and marker_says(
        ferretdb_build_marker(settings), FERRETDB_BUILD
    )


def install_ferretdb(settings: Settings) -> None:
    home = ferretdb_home(settings)
    build, src, binary = home / "build", home / "src", ferretdb_binary(settings)
    log = settings.logs_dir / "ferretdb-build.log"
    say(f"ferretdb: building FerretDB {FERRETDB_VERSION} (first run only), log: {log}")
    say("ferretdb: the build takes a few minutes when Go's build cache is cold")
    force_rmtree(build)
    build.mkdir(parents=True)
    shutil.copyfile(FERRETDB_TEMPLATE_DIR / "go.mod", build / "go.mod")
    has_sum = (FERRETDB_TEMPLATE_DIR / "go.sum").is_file()
    if has_sum:
        shutil.copyfile(FERRETDB_TEMPLATE_DIR / "go.sum", build / "go.sum")
    _prepare_ferretdb_source(_ferretdb_module_dir(build, log), src)
    with (build / "go.mod").open("a") as go_mod:
        go_mod.write(f"\nreplace {FERRETDB_MODULE} => ../src\n")
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name("ferretdb.partial")
    run_logged(
        [
            "go",
            "build",
            "-mod=readonly" if has_sum else "-mod=mod",
            "-buildvcs=false",
            "-o",
            str(partial),
            f"{FERRETDB_MODULE}/cmd/ferretdb",
        ],
        log,
        cwd=build,
        env=_go_env(),
        what="building FerretDB",
    )
    version = run_logged(
        [str(partial), "--version"], log, cwd=build, what="running the built FerretDB"
    )
    if f"version: {FERRETDB_VERSION}" not in version:
        raise StackError(f"the built FerretDB reports an unexpected version:\n{version}")
    partial.replace(binary)
    ferretdb_build_marker(settings).write_text(f"{FERRETDB_BUILD}\n")


def prepare_ferretdb(settings: Settings) -> list[str]:
    data = settings.data_dir / "ferretdb"
    state = settings.data_dir / "ferretdb-state"
    data.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    return [
        str(ferretdb_binary(settings)),
        "--handler=sqlite",
        f"--sqlite-url=file:{data}/",
        f"--listen-addr={HOST}:{settings.mongo_port}",
        f"--state-dir={state}",
        "--debug-addr=-",  # its metrics/pprof HTTP listener would otherwise take 127.0.0.1:8088
        "--telemetry=disable",
        "--log-level=warn",
        "--log-format=text",
    ]


def ferretdb_service(settings: Settings) -> Service:
    return Service(
        name="ferretdb",
        settings=settings,
        ports={settings.mongo_port: "BATON_MONGO_PORT"},
        address=settings.mongodb_url,
        signature=Signature("ferretdb", f"--state-dir={settings.data_dir / 'ferretdb-state'}"),
        probe=lambda: mongo_ping(HOST, settings.mongo_port),
        is_installed=lambda: ferretdb_installed(settings),
        install=lambda: install_ferretdb(settings),
        launch_argv=lambda: prepare_ferretdb(settings),
        install_tools={GO},
    )


def mongo_service(settings: Settings) -> Service:
    if settings.mongo_server == "ferretdb":
        return ferretdb_service(settings)
    return mongo_java_server_service(settings)


def services(settings: Settings) -> list[Service]:
    return [kafka_service(settings), mongo_service(settings)]


# --------------------------------------------------------------------------- lifecycle


@contextlib.contextmanager
def stack_lock(settings: Settings) -> Iterator[None]:
    """Serialise up/down, e.g. when several test workers run ``up`` at the same time."""
    ensure_stack_dir(settings)
    with (settings.run_dir / "stack.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("waiting for another stack.py up/down to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def port_problems(service: Service) -> list[str]:
    return [
        f"{service.name}: port {HOST}:{port} is already in use by a process that is not this "
        f"stack's {service.name}; stop that process or set {variable} to another port"
        for port, variable in service.ports.items()
        if not port_is_free(port)
    ]


def wait_for_ports(service: Service) -> list[str]:
    """The port problems still there after waiting a while (``BATON_STACK_PORT_WAIT_S``)
    for them to clear."""
    deadline = time.monotonic() + service.settings.port_wait_s
    while (problems := port_problems(service)) and time.monotonic() < deadline:
        time.sleep(0.5)
    return problems


def launch(service: Service) -> subprocess.Popen[bytes]:
    """Start the server detached from this CLI (own session, output to its log file)."""
    problems = wait_for_ports(service)
    if problems:
        raise StackError("\n".join(problems))
    argv = service.launch_argv()
    with service.log_file.open("ab") as log:
        log.write(
            f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(argv)}\n".encode()
        )
        log.flush()
        service.log_marks = {
            path: file_size(path) for path in (service.log_file, *service.extra_logs)
        }
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=service.settings.logs_dir,
            start_new_session=True,
        )
    service.pid_file.write_text(f"{process.pid}\n")
    say(f"{service.name}: started (pid {process.pid}), log: {service.log_file}")
    return process


def wait_until_answering(
    service: Service, process: subprocess.Popen[bytes] | None, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process is not None and process.poll() is not None:
            raise service.failure(f"exited with code {process.returncode} while starting")
        problem = service.answers()
        if problem is None:
            return
        if time.monotonic() > deadline:
            raise service.failure(f"did not answer within {timeout:.0f} s (last error: {problem})")
        time.sleep(0.25)


def stop(service: Service, *, quiet: bool = False) -> None:
    pid = service.running_pid()
    if pid is None:
        if not quiet:
            say(f"{service.name}: not running")
    else:
        say(f"{service.name}: stopping (pid {pid})")
        signal_process(pid, signal.SIGTERM)
        if not wait_for_exit(pid, service.signature, STOP_GRACE_SECONDS):
            say(f"{service.name}: still running after {STOP_GRACE_SECONDS:.0f} s, killing it")
            signal_process(pid, signal.SIGKILL)
            wait_for_exit(pid, service.signature, 10)
    service.pid_file.unlink(missing_ok=True)


def bring_up(service: Service, timeout: float) -> bool:
    """Make ``service`` answer; True if this call had to start it."""
    if service.running_pid() is not None:
        # Running but not answering yet, e.g. started by an earlier `up` that was interrupted.
        try:
            wait_until_answering(service, None, timeout)
        except StackError as exc:
            raise StackError(
                f"{exc}\n(it was already running; `stack.py down` then `up` restarts it)"
            ) from exc
        return False
    service.pid_file.unlink(missing_ok=True)
    if not service.is_installed():
        service.install()
    process = launch(service)
    try:
        wait_until_answering(service, process, timeout)
    except StackError:
        stop(service, quiet=True)
        raise
    return True


def _all_answering(stack: list[Service]) -> bool:
    return all(s.running_pid() is not None and s.answers() is None for s in stack)


def start_stack(settings: Settings, timeout: float) -> bool:
    """Bring every service up, in parallel; True if anything had to be started."""
    stack = services(settings)
    if _all_answering(stack):
        return False
    problems: list[str] = []
    tools: set[Tool] = set()
    for service in stack:
        if service.running_pid() is None:
            problems += wait_for_ports(service)
            tools |= service.needed_tools()
    problems += tool_problems(tools)
    if problems:
        raise StackError("cannot start the stack:\n" + "\n".join(f"  - {p}" for p in problems))
    with ThreadPoolExecutor(max_workers=len(stack)) as pool:
        futures = [pool.submit(bring_up, service, timeout) for service in stack]
    failures = [exc for exc in (f.exception() for f in futures) if exc is not None]
    for exc in failures:
        if not isinstance(exc, StackError):
            raise exc
    if failures:
        raise StackError("\n".join(str(exc) for exc in failures))
    return any(f.result() for f in futures)


# --------------------------------------------------------------------------- commands


def env_lines(settings: Settings) -> str:
    return (
        f"KAFKA_BOOTSTRAP_SERVERS={settings.kafka_bootstrap_servers}\n"
        f"MONGODB_URL={settings.mongodb_url}"
    )


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    began = time.monotonic()
    with stack_lock(settings):
        started = start_stack(settings, args.timeout)
    elapsed = time.monotonic() - began
    say(
        f"stack up in {elapsed:.1f} s"
        if started
        else f"stack already running (checked in {elapsed:.1f} s)"
    )
    say(
        f"kafka: {settings.kafka_bootstrap_servers}   "
        f"mongodb: {settings.mongodb_url} ({settings.mongo_server})"
    )
    if args.json:
        print(
            json.dumps(
                {
                    "kafka_bootstrap_servers": settings.kafka_bootstrap_servers,
                    "mongodb_url": settings.mongodb_url,
                    "mongo_server": settings.mongo_server,
                    "started": started,
                }
            )
        )
    else:
        print(env_lines(settings))
    return 0


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    with stack_lock(settings):
        for service in reversed(services(settings)):
            stop(service)
        if args.purge:
            for path in (settings.data_dir, settings.logs_dir):
                if path.exists():
                    say(f"deleting {path}")
                    force_rmtree(path)
    return 0


def cmd_status(settings: Settings, _args: argparse.Namespace) -> int:
    healthy = True
    for service in services(settings):
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
    parser = argparse.ArgumentParser(prog="stack.py", description=(__doc__ or "").split("\n\n")[0])
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
        "--purge", action="store_true", help="also delete data and logs (not downloads)"
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
    try:
        settings = Settings.from_env()
        if getattr(args, "timeout", 0) is None:
            args.timeout = _env_seconds("BATON_STACK_TIMEOUT", 90.0)
        handler: Callable[[Settings, argparse.Namespace], int] = args.handler
        return handler(settings, args)
    except StackError as exc:
        print(f"stack.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("stack.py: interrupted", file=sys.stderr)
        return 130


# --------------------------------------------------------------------------- wire probes


PROBE_TOPIC = "baton-stack-probe"
PROBE_GROUP = "baton-stack-probe"
CLIENT_ID = "baton-stack"
MAX_FRAME = 64 * 1024 * 1024


class ProbeError(Exception):
    """The server did not answer as a healthy server would."""


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 16))
        if not chunk:
            raise ProbeError("connection closed by the server")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ProbeError(f"cannot connect to {host}:{port}: {exc}") from exc
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# --------------------------------------------------------------------------- Kafka primitives


class _Reader:
    """Sequential decoder for big-endian Kafka protocol fields."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, size: int) -> bytes:
        end = self._pos + size
        if end > len(self._data):
            raise ProbeError("truncated Kafka response")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def int8(self) -> int:
        return int(struct.unpack(">b", self.take(1))[0])

    def int16(self) -> int:
        return int(struct.unpack(">h", self.take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self.take(4))[0])

    def uint32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def int64(self) -> int:
        return int(struct.unpack(">q", self.take(8))[0])

    def string(self) -> str | None:
        size = self.int16()
        return None if size < 0 else self.take(size).decode()

    def bytes_(self) -> bytes | None:
        size = self.int32()
        return None if size < 0 else self.take(size)

    def varint(self) -> int:
        shift = 0
        raw = 0
        while True:
            byte = self.take(1)[0]
            raw |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return (raw >> 1) ^ -(raw & 1)
            shift += 7
            if shift > 63:
                raise ProbeError("malformed varint in Kafka response")

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def array(self) -> Iterator[None]:
        """Yield once per element of a (nullable) array; the caller reads each element."""
        count = self.int32()
        for _ in range(max(count, 0)):
            yield None


def _str(value: str | None) -> bytes:
    if value is None:
        return struct.pack(">h", -1)
    raw = value.encode()
    return struct.pack(">h", len(raw)) + raw


def _varint(value: int) -> bytes:
    zigzag = (value << 1) ^ (value >> 63)
    out = bytearray()
    while True:
        byte = zigzag & 0x7F
        zigzag >>= 7
        if zigzag:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for index in range(256):
        crc = index
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC32C_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum of Kafka record batches (zlib only has CRC-32)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# The errors a broker that is still starting returns; the probe is simply retried then.
_STARTUP_ERRORS = {
    3: "UNKNOWN_TOPIC_OR_PARTITION",
    5: "LEADER_NOT_AVAILABLE",
    6: "NOT_LEADER_OR_FOLLOWER",
    7: "REQUEST_TIMED_OUT",
    14: "COORDINATOR_LOAD_IN_PROGRESS",
    15: "COORDINATOR_NOT_AVAILABLE",
    19: "NOT_ENOUGH_REPLICAS",
}


def _check_error(code: int, what: str) -> None:
    if code:
        name = _STARTUP_ERRORS.get(code, "see the Kafka protocol error codes")
        raise ProbeError(f"Kafka {what} failed with error code {code} ({name})")


class _KafkaConnection:
    _API_PRODUCE, _API_FETCH, _API_METADATA, _API_FIND_COORDINATOR = 0, 1, 3, 10

    def __init__(self, host: str, port: int, timeout: float) -> None:
        self._sock = _connect(host, port, timeout)
        self._correlation = itertools.count(1)

    def close(self) -> None:
        self._sock.close()

    def request(self, api_key: int, version: int, body: bytes) -> _Reader:
        correlation_id = next(self._correlation)
        header = struct.pack(">hhi", api_key, version, correlation_id) + _str(CLIENT_ID)
        payload = header + body
        try:
            self._sock.sendall(struct.pack(">i", len(payload)) + payload)
            (size,) = struct.unpack(">i", _recv_exact(self._sock, 4))
            if not 4 <= size <= MAX_FRAME:
                raise ProbeError(f"implausible Kafka frame size {size}")
            reader = _Reader(_recv_exact(self._sock, size))
        except OSError as exc:
            raise ProbeError(f"Kafka request {api_key} v{version} failed: {exc}") from exc
        if reader.int32() != correlation_id:
            raise ProbeError("Kafka response does not match the request")
        return reader

    def partition_leader(self, topic: str, partition: int) -> int:
        """Metadata v4 with auto-creation on; returns the leader id of ``topic``/``partition``."""
        body = struct.pack(">i", 1) + _str(topic) + struct.pack(">b", 1)
        reader = self.request(self._API_METADATA, 4, body)
        reader.int32()  # throttle_time_ms
        for _ in reader.array():  # brokers
            reader.int32(), reader.string(), reader.int32(), reader.string()
        reader.string()  # cluster_id
        reader.int32()  # controller_id
        leader = -1
        for _ in reader.array():
            _check_error(reader.int16(), f"metadata for topic {topic!r}")
            reader.string(), reader.int8()  # name, is_internal
            for _ in reader.array():
                error, index, leader_id = reader.int16(), reader.int32(), reader.int32()
                for _ in reader.array():  # replica_nodes
                    reader.int32()
                for _ in reader.array():  # isr_nodes
                    reader.int32()
                if index == partition:
                    _check_error(error, f"metadata for {topic}-{partition}")
                    leader = leader_id
        if leader < 0:
            raise ProbeError(f"{topic}-{partition} has no leader yet")
        return leader

    def produce(self, topic: str, partition: int, value: bytes) -> int:
        """Produce v3 (acks=all) of one record; returns its offset."""
        batch = _record_batch(value, int(time.time() * 1000))
        body = (
            _str(None)  # transactional_id
            + struct.pack(">hi", -1, 4_000)  # acks=all, timeout_ms
            + struct.pack(">i", 1)
            + _str(topic)
            + struct.pack(">iii", 1, partition, len(batch))
            + batch
        )
        reader = self.request(self._API_PRODUCE, 3, body)
        offset = -1
        for _ in reader.array():
            reader.string()
            for _ in reader.array():
                index, error = reader.int32(), reader.int16()
                base_offset, _append_time = reader.int64(), reader.int64()
                if index == partition:
                    _check_error(error, f"produce to {topic}-{partition}")
                    offset = base_offset
        if offset < 0:
            raise ProbeError(f"produce to {topic}-{partition} returned no offset")
        return offset

    def fetch_one(self, topic: str, partition: int, offset: int) -> bytes:
        """Fetch v4 from ``offset``; returns the value of the record at exactly that offset."""
        body = (
            struct.pack(">iiiib", -1, 1_000, 1, 1 << 20, 0)
            + struct.pack(">i", 1)
            + _str(topic)
            + struct.pack(">iiqi", 1, partition, offset, 1 << 20)
        )
        reader = self.request(self._API_FETCH, 4, body)
        reader.int32()  # throttle_time_ms
        records: bytes | None = None
        for _ in reader.array():
            reader.string()
            for _ in reader.array():
                index, error = reader.int32(), reader.int16()
                reader.int64(), reader.int64()  # high_watermark, last_stable_offset
                for _ in reader.array():  # aborted_transactions
                    reader.int64(), reader.int64()
                data = reader.bytes_()
                if index == partition:
                    _check_error(error, f"fetch from {topic}-{partition}")
                    records = data
        if not records:
            raise ProbeError(f"fetch from {topic}-{partition} returned no records")
        return _value_at(records, offset)

    def find_group_coordinator(self, group: str) -> int:
        """FindCoordinator v1 for a consumer group; returns the coordinator's node id."""
        reader = self.request(self._API_FIND_COORDINATOR, 1, _str(group) + struct.pack(">b", 0))
        reader.int32()  # throttle_time_ms
        error = reader.int16()
        reader.string()  # error_message
        node_id = reader.int32()
        _check_error(error, f"find coordinator for group {group!r}")
        return node_id


def _record_batch(value: bytes, timestamp_ms: int) -> bytes:
    """One uncompressed, non-transactional RecordBatch v2 holding one record without key."""
    record_body = (
        struct.pack(">b", 0)  # attributes
        + _varint(0)  # timestamp delta
        + _varint(0)  # offset delta
        + _varint(-1)  # null key
        + _varint(len(value))
        + value
        + _varint(0)  # no headers
    )
    record = _varint(len(record_body)) + record_body
    after_crc = (
        struct.pack(">hi", 0, 0)  # attributes, last_offset_delta
        + struct.pack(">qq", timestamp_ms, timestamp_ms)
        + struct.pack(">qhi", -1, -1, -1)  # producer id, epoch, base sequence
        + struct.pack(">i", 1)
        + record
    )
    after_length = struct.pack(">ibI", -1, 2, crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(after_length)) + after_length


def _value_at(records: bytes, offset: int) -> bytes:
    """Find the value of the record at ``offset`` in a run of RecordBatch v2."""
    reader = _Reader(records)
    # A fetch may end with a partial batch; 12 bytes is the smallest complete batch prefix.
    while reader.remaining() >= 12:
        base_offset, length = reader.int64(), reader.int32()
        if length > reader.remaining():
            break
        batch = _Reader(reader.take(length))
        batch.int32()  # partition_leader_epoch
        magic = batch.int8()
        batch.uint32()  # crc
        if magic != 2 or batch.int16() & 0x07:
            continue  # old-format or compressed: not written by this probe
        batch.int32(), batch.int64(), batch.int64()  # last_offset_delta, timestamps
        batch.int64(), batch.int16(), batch.int32()  # producer id, epoch, base sequence
        for _ in range(batch.int32()):
            batch.varint()  # record length
            batch.int8()  # attributes
            batch.varint()  # timestamp delta
            record_offset = base_offset + batch.varint()
            key_length = batch.varint()
            if key_length > 0:
                batch.take(key_length)
            value_length = batch.varint()
            value = batch.take(value_length) if value_length >= 0 else b""
            for _ in range(batch.varint()):  # headers
                batch.take(batch.varint())
                batch.take(max(batch.varint(), 0))
            if record_offset == offset:
                return value
    raise ProbeError(f"the fetched records do not include offset {offset}")


def kafka_round_trip(host: str, port: int, timeout: float = 5.0) -> None:
    """Produce one record to a probe topic and read it back; raise ProbeError if anything fails."""
    conn = _KafkaConnection(host, port, timeout)
    try:
        conn.partition_leader(PROBE_TOPIC, 0)
        token = os.urandom(16).hex().encode()
        offset = conn.produce(PROBE_TOPIC, 0, token)
        if conn.fetch_one(PROBE_TOPIC, 0, offset) != token:
            raise ProbeError("Kafka returned a different record than the one produced")
        conn.find_group_coordinator(PROBE_GROUP)
    except (struct.error, UnicodeDecodeError) as exc:
        raise ProbeError(f"malformed Kafka response: {exc}") from exc
    finally:
        conn.close()


# --------------------------------------------------------------------------- MongoDB


_OP_MSG = 2013


def _cstring(text: str) -> bytes:
    return text.encode() + b"\x00"


def bson_encode(doc: dict[str, int | str]) -> bytes:
    """Encode a flat document of int32 and string values (all the ping command needs)."""
    body = b""
    for key, value in doc.items():
        if isinstance(value, int):
            body += b"\x10" + _cstring(key) + struct.pack("<i", value)
        else:
            raw = value.encode() + b"\x00"
            body += b"\x02" + _cstring(key) + struct.pack("<i", len(raw)) + raw
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


_FIXED_SIZES = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8, 0x12: 8, 0x13: 16}


def bson_top_level(data: bytes) -> dict[str, object]:
    """Decode the top-level fields of a BSON document; nested documents stay raw bytes."""
    (total,) = struct.unpack_from("<i", data, 0)
    if total > len(data) or data[total - 1] != 0:
        raise ProbeError("malformed BSON document")
    fields: dict[str, object] = {}
    pos = 4
    while data[pos] != 0:
        kind = data[pos]
        name_end = data.index(b"\x00", pos + 1)
        name = data[pos + 1 : name_end].decode()
        pos = name_end + 1
        value, pos = _bson_value(data, kind, pos)
        fields[name] = value
    return fields


def _bson_value(data: bytes, kind: int, pos: int) -> tuple[object, int]:
    if kind == 0x01:
        return struct.unpack_from("<d", data, pos)[0], pos + 8
    if kind == 0x10:
        return struct.unpack_from("<i", data, pos)[0], pos + 4
    if kind == 0x12:
        return struct.unpack_from("<q", data, pos)[0], pos + 8
    if kind == 0x08:
        return data[pos] == 1, pos + 1
    if kind in (0x02, 0x0D, 0x0E):  # string, JavaScript code, symbol
        (size,) = struct.unpack_from("<i", data, pos)
        return data[pos + 4 : pos + 3 + size].decode(), pos + 4 + size
    if kind in (0x03, 0x04):  # document, array
        (size,) = struct.unpack_from("<i", data, pos)
        return data[pos : pos + size], pos + size
    if kind == 0x05:  # binary: length, subtype, bytes
        (size,) = struct.unpack_from("<i", data, pos)
        return data[pos + 5 : pos + 5 + size], pos + 5 + size
    if kind in _FIXED_SIZES:
        size = _FIXED_SIZES[kind]
        return data[pos : pos + size], pos + size
    raise ProbeError(f"unsupported BSON type 0x{kind:02x} in reply")


def mongo_command(
    host: str, port: int, command: dict[str, int | str], timeout: float = 5.0
) -> dict[str, object]:
    """Run one command over OP_MSG and return the top-level fields of the reply."""
    body = struct.pack("<I", 0) + b"\x00" + bson_encode(command)
    request_id = int.from_bytes(os.urandom(3), "little")
    message = struct.pack("<iiii", 16 + len(body), request_id, 0, _OP_MSG) + body
    sock = _connect(host, port, timeout)
    try:
        sock.sendall(message)
        size, _, response_to, opcode = struct.unpack("<iiii", _recv_exact(sock, 16))
        if not 16 < size <= MAX_FRAME:
            raise ProbeError(f"implausible MongoDB message size {size}")
        payload = _recv_exact(sock, size - 16)
    except OSError as exc:
        raise ProbeError(f"MongoDB command failed: {exc}") from exc
    finally:
        sock.close()
    if opcode != _OP_MSG or response_to != request_id or len(payload) < 10 or payload[4] != 0:
        raise ProbeError(f"unexpected MongoDB reply (opcode {opcode})")
    try:
        return bson_top_level(payload[5:])
    except (struct.error, IndexError, ValueError) as exc:  # ValueError covers bad UTF-8
        raise ProbeError(f"malformed BSON in the MongoDB reply: {exc}") from exc


def mongo_ping(host: str, port: int, timeout: float = 5.0) -> None:
    """Send ``ping`` to the admin database; raise ProbeError unless the reply says ``ok: 1``."""
    reply = mongo_command(host, port, {"ping": 1, "$db": "admin"}, timeout)
    if reply.get("ok") != 1:
        raise ProbeError(f"MongoDB ping was not ok: {reply.get('errmsg', reply)}")


if __name__ == "__main__":
    sys.exit(main())
