"""Baton as real processes, for fault injection and the benchmark.

A dedicated local stack (its own directory and ports, so it can be stopped and restarted
without touching anyone else's), the scripted model and the four services, each started
with ``python -m <package>`` exactly as in production, with their own settings and broker
connections. Processes can be killed (SIGKILL), stopped (SIGTERM), restarted and doubled.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from .ports import free_port

STACK_COMMAND = (sys.executable, "-m", "baton_stack")
"""The local stack's command line (``baton_stack``); append up, down or status."""


@dataclass
class LocalStack:
    """A local Kafka + MongoDB-wire server this test controls completely."""

    directory: Path
    kafka_port: int
    controller_port: int
    mongo_port: int
    # The MongoDB-wire server the stack runs, as `up --json` names it; known after up().
    mongo_server: str = ""

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "BATON_STACK_DIR": str(self.directory),
            "BATON_KAFKA_PORT": str(self.kafka_port),
            "BATON_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "BATON_MONGO_PORT": str(self.mongo_port),
        }

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongodb(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/"

    async def up(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            *STACK_COMMAND,
            "up",
            "--json",
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"stack up failed ({proc.returncode}):\n{err.decode()[-3000:]}")
        self.mongo_server = json.loads(out.decode().strip().splitlines()[-1])["mongo_server"]

    async def down(self, *, purge: bool = False) -> None:
        """Stop both servers; with ``purge``, also delete their data and logs."""
        proc = await asyncio.create_subprocess_exec(
            *STACK_COMMAND, "down", *(["--purge"] if purge else []), env=self.env
        )
        await proc.wait()

    def server_name(self, component: str) -> str:
        """``kafka``, or for ``mongodb`` the MongoDB-wire server the stack runs."""
        if component == "mongodb":
            if not self.mongo_server:
                raise RuntimeError("the stack's MongoDB server is known only after up()")
            return self.mongo_server
        return component

    def pid(self, component: str) -> int | None:
        """The pid the stack recorded for ``kafka`` or ``mongodb``, if it runs one."""
        pid_file = self.directory / "run" / f"{self.server_name(component)}.pid"
        return int(pid_file.read_text().split()[0]) if pid_file.is_file() else None

    async def stop(self, component: str) -> None:
        """Stop one server (``kafka`` or ``mongodb``) the way an operator would: SIGTERM."""
        pid = self.pid(component)
        if pid is None:
            raise RuntimeError(f"the stack runs no {component}")
        os.kill(pid, signal.SIGTERM)
        for _ in range(600):
            if _gone(pid):
                return
            await asyncio.sleep(0.1)
        os.kill(pid, signal.SIGKILL)


@dataclass
class Program:
    name: str
    module: str
    env_prefix: str
    port: int = 0
    health: str = "/health/ready"
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: dict[int, int] = field(default_factory=dict)
    """The port each instance serves on, by its pid."""

    @property
    def url(self) -> str:
        """The first instance's URL (its port stays when it is restarted)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def urls(self) -> list[str]:
        """Each running instance's URL, in the order of :attr:`processes`."""
        return [f"http://127.0.0.1:{self.ports[p.pid]}" for p in self.processes]


FAST_RECOVERY: Mapping[str, str] = {
    "INGEST_RECOVERY_INTERVAL_S": "1",
    "INGEST_RECOVERY_GRACE_S": "2",
    "AI_RESPONDER_LLM_TIMEOUT_S": "2",
    "AI_RESPONDER_LLM_BACKOFF_S": "0.1",
    "HUMAN_QUEUE_SWEEP_INTERVAL_S": "1",
}
"""Settings for fault injection: what a crash left is swept up within seconds, and a model
that hangs is given up on quickly. Without them a system runs on the services' defaults."""


@dataclass
class System:
    stack: LocalStack
    namespace: str
    logs: Path
    admin_token: str = "fault-admin-token-0123456789"  # noqa: S105 - the test system's own
    overrides: Mapping[str, str] = field(default_factory=dict)
    programs: dict[str, Program] = field(default_factory=dict)
    gateway_key: str = ""
    """The key of the gateway :meth:`start_all` creates (any channel, may set the tier)."""

    def __post_init__(self) -> None:
        for program in (
            Program("scripted-model", "baton_scripted_model", "SCRIPTED_MODEL_", health="/health"),
            Program("ingest", "baton_ingest", "INGEST_"),
            Program("router", "baton_router", "ROUTER_"),
            Program("ai-responder", "baton_ai_responder", "AI_RESPONDER_"),
            Program("human-queue", "baton_human_queue", "HUMAN_QUEUE_"),
        ):
            program.port = free_port()
            self.programs[program.name] = program

    def env(self, program: Program, port: int) -> dict[str, str]:
        model = self.programs["scripted-model"]
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.stack.kafka,
            "KAFKA_TOPIC_PREFIX": f"{self.namespace}.",
            "MONGODB_URL": self.stack.mongodb,
            "MONGODB_DATABASE": self.namespace,
            "OPENAI_BASE_URL": f"{model.url}/v1",
            "OPENAI_API_KEY": "scripted",
            "LOG_LEVEL": "WARNING",
            "HUMAN_QUEUE_ENV": "test",
            "HUMAN_QUEUE_ADMIN_TOKEN": self.admin_token,
            "INGEST_ENV": "test",
            "INGEST_ADMIN_TOKEN": self.admin_token,
            **self.overrides,
            f"{program.env_prefix}HOST": "127.0.0.1",
            f"{program.env_prefix}PORT": str(port),
        }

    async def start(self, name: str, *, extra: bool = False) -> Program:
        """Start ``name`` (or, with ``extra``, one more instance of it) and wait until ready."""
        program = self.programs[name]
        port = free_port() if extra else program.port
        self.logs.mkdir(parents=True, exist_ok=True)
        suffix = f"-{len(program.processes)}" if extra else ""
        log = (self.logs / f"{name}{suffix}.log").open("ab")
        # Popen returns once the child exists; it does not wait for it.
        process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own service
            [sys.executable, "-m", program.module],
            env=self.env(program, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        program.processes.append(process)
        program.ports[process.pid] = port
        await self._wait_ready(program, process, f"http://127.0.0.1:{port}{program.health}")
        return program

    async def _wait_ready(
        self, program: Program, process: subprocess.Popen[bytes], url: str
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 90
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as client:
            while loop.time() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{program.name} exited with {process.returncode}; see {self.logs}"
                    )
                try:
                    async with client.get(url) as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{program.name} not ready at {url} within 90 s; see {self.logs}")

    async def start_all(self) -> None:
        """Start every program, then create a gateway whose key ingest's clients send
        (:attr:`gateway_key`, :attr:`ingest_headers`)."""
        for name in self.programs:
            await self.start(name)
        self.gateway_key = await self.create_gateway("test gateway")

    async def create_gateway(self, name: str) -> str:
        """A new gateway of any channel, which may set the tier, through ingest's admin API;
        its key."""
        url = f"{self.programs['ingest'].url}/v1/admin/gateways"
        body = {"name": name, "channels": ["*"], "may_set_routing": True}
        headers = {"Authorization": f"Bearer {self.admin_token}"}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client,
            client.post(url, json=body, headers=headers) as response,
        ):
            response.raise_for_status()
            key: str = (await response.json())["key"]
            return key

    @property
    def ingest_headers(self) -> dict[str, str]:
        """What a client of ingest sends: the gateway key."""
        return {"Authorization": f"Bearer {self.gateway_key}"}

    def kill(self, name: str) -> None:
        """SIGKILL every instance of ``name``: no shutdown code runs."""
        program = self.programs[name]
        for process in program.processes:
            if process.poll() is None:
                process.kill()
                process.wait()
        program.processes.clear()

    def kill_instance(self, name: str, index: int) -> None:
        """SIGKILL one instance of ``name``; the others keep running."""
        process = self.programs[name].processes.pop(index)
        process.kill()
        process.wait()

    async def stop_instance(self, name: str, index: int) -> None:
        """SIGTERM one instance and wait for its graceful shutdown."""
        process = self.programs[name].processes.pop(index)
        process.terminate()
        await asyncio.to_thread(process.wait, 40)

    async def restart(self, name: str) -> None:
        self.kill(name)
        await self.start(name)

    async def stop_all(self) -> None:
        for program in self.programs.values():
            for process in program.processes:
                if process.poll() is None:
                    process.terminate()
            for process in program.processes:
                try:
                    await asyncio.to_thread(process.wait, 30)
                except subprocess.TimeoutExpired:
                    process.kill()
            program.processes.clear()


def _gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie not yet reaped counts as exited)."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except (ProcessLookupError, FileNotFoundError):
        return True


# Loaded once here: the child between fork and exec (preexec_fn) should only make the call.
_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this child when the test process dies, however it dies, so an
    interrupted run leaves no services behind talking to the stack."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def new_namespace(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"
