"""Where the stack lives and which ports it listens on, read from the environment.

* ``BATON_STACK_DIR``: downloads, data, logs and pid files (default ``.stack/`` at the
  repository root).
* ``BATON_KAFKA_PORT`` (9092), ``BATON_KAFKA_CONTROLLER_PORT`` (9093), ``BATON_MONGO_PORT``
  (27017): listening ports, all on 127.0.0.1.
* ``BATON_STACK_TIMEOUT``: seconds ``up`` waits for a started server to answer (90).
* ``BATON_STACK_PORT_WAIT_S``: seconds ``up`` waits for a port held by another process to be
  released before it reports the port as taken (20).

Layout of the stack directory: ``kafka-<version>/`` and ``mongo-java-server-<version>/`` are
installs reused across runs; ``data/`` holds the servers' files (kept by ``down``, removed by
``down --purge``); ``conf/``, ``logs/`` and ``run/`` (pid files, lock).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import StackError

HOST = "127.0.0.1"
DEFAULT_KAFKA_PORT = 9092
DEFAULT_CONTROLLER_PORT = 9093
DEFAULT_MONGO_PORT = 27017
DEFAULT_UP_TIMEOUT_S = 90.0
# A socket of a client that was talking to a stopped server can hold its port for a moment.
DEFAULT_PORT_WAIT_S = 20.0


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise StackError(f"{name}={raw!r} is not a TCP port number")
    return int(raw)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise StackError(f"{name}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise StackError(f"{name} must be positive")
    return value


def default_stack_dir() -> Path:
    """``.stack/`` at the repository root, which holds this package's source (the workspace
    installs it editable)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "uv.lock").is_file():
            return parent / ".stack"
    raise StackError("cannot tell where the repository is: set BATON_STACK_DIR")


@dataclass(frozen=True)
class Settings:
    stack_dir: Path
    kafka_port: int = DEFAULT_KAFKA_PORT
    controller_port: int = DEFAULT_CONTROLLER_PORT
    mongo_port: int = DEFAULT_MONGO_PORT
    up_timeout_s: float = DEFAULT_UP_TIMEOUT_S
    port_wait_s: float = DEFAULT_PORT_WAIT_S

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        raw_dir = env.get("BATON_STACK_DIR", "").strip()
        settings = cls(
            stack_dir=Path(raw_dir).expanduser().resolve() if raw_dir else default_stack_dir(),
            kafka_port=_port(env, "BATON_KAFKA_PORT", DEFAULT_KAFKA_PORT),
            controller_port=_port(env, "BATON_KAFKA_CONTROLLER_PORT", DEFAULT_CONTROLLER_PORT),
            mongo_port=_port(env, "BATON_MONGO_PORT", DEFAULT_MONGO_PORT),
            up_timeout_s=_seconds(env, "BATON_STACK_TIMEOUT", DEFAULT_UP_TIMEOUT_S),
            port_wait_s=_seconds(env, "BATON_STACK_PORT_WAIT_S", DEFAULT_PORT_WAIT_S),
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

    def ensure_dirs(self) -> None:
        for path in (self.run_dir, self.logs_dir, self.data_dir, self.conf_dir):
            path.mkdir(parents=True, exist_ok=True)
        # Keeps the whole folder out of git even where the repository's .gitignore lacks it.
        ignore = self.stack_dir / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")
