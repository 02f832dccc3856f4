"""`make run`: the whole system on this machine.

Starts the local Kafka and MongoDB-wire stack (python -m baton_stack), the scripted model
when no OPENAI_API_KEY is set (its demo shop then serves the AI's tools), and the four services
as separate processes; makes a key for the demo gateway; prints their URLs, the admin token and
the key, and writes the two to .run/credentials.json (readable only by you); stops the services
on Ctrl-C (the stack keeps running: `make stack-down`).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from baton_scripted_model.shop import APPROVAL_ABOVE, demo_tools

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / ".run" / "logs"
CREDENTIALS = ROOT / ".run" / "credentials.json"
DEMO_TOOLS = ROOT / ".run" / "demo-tools.json"
DEMO_GATEWAY = "demo"


@dataclass(frozen=True)
class Program:
    name: str
    module: str
    port: int
    env_prefix: str
    health: str = "/health/ready"


SERVICES = (
    Program("ingest", "baton_ingest", 8001, "INGEST_"),
    Program("router", "baton_router", 8002, "ROUTER_"),
    Program("ai-responder", "baton_ai_responder", 8003, "AI_RESPONDER_"),
    Program("human-queue", "baton_human_queue", 8004, "HUMAN_QUEUE_"),
)
SCRIPTED_MODEL = Program(
    "scripted-model", "baton_scripted_model", 8010, "SCRIPTED_MODEL_", "/health"
)


def stack_up() -> dict[str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "baton_stack", "up", "--json"],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.exit("the local stack did not start; see the messages above")
    info: dict[str, str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return info


def start(program: Program, env: dict[str, str]) -> subprocess.Popen[bytes]:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = (LOGS / f"{program.name}.log").open("ab")
    env = {**env, f"{program.env_prefix}PORT": str(program.port)}
    return subprocess.Popen(
        [sys.executable, "-m", program.module], env=env, stdout=log, stderr=subprocess.STDOUT
    )


def wait_healthy(program: Program, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    url = f"http://127.0.0.1:{program.port}{program.health}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{program.name} exited with {proc.returncode}; see {LOGS / program.name}.log")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.3)
    sys.exit(f"{program.name} did not become ready at {url}; see {LOGS / program.name}.log")


def admin_call(url: str, token: str, method: str = "GET", body: object = None) -> Any:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def demo_gateway_key(admin_token: str) -> str:
    """A fresh key for the demo gateway (any channel, may set the tier): the same gateway
    from run to run, so the threads of earlier runs stay within its reach."""
    gateways = "http://127.0.0.1:8001/v1/admin/gateways"
    found = admin_call(gateways, admin_token)["gateways"]
    demo = [g for g in found if g["name"] == DEMO_GATEWAY and g["active"]]
    if demo:
        rotated = admin_call(f"{gateways}/{demo[0]['gateway_id']}/rotate-key", admin_token, "POST")
        key: str = rotated["key"]
        return key
    body = {"name": DEMO_GATEWAY, "channels": ["*"], "may_set_routing": True}
    created = admin_call(gateways, admin_token, "POST", body)
    key = created["key"]
    return key


def chat_url(gateway_key: str) -> str:
    """The web chat with the demo gateway's key in the fragment: the browser keeps a
    fragment to itself, so the key reaches the page but never a server or its logs."""
    return f"http://127.0.0.1:8001/chat#key={urllib.parse.quote(gateway_key, safe='')}"


def write_demo_tools(path: Path = DEMO_TOOLS) -> Path:
    """The demo's tools file: the scripted model's demo shop, so a newcomer sees an action
    (docs/tools.md, "In the demo")."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tools = demo_tools(f"http://127.0.0.1:{SCRIPTED_MODEL.port}")
    path.write_text(json.dumps(tools, indent=2) + "\n", encoding="utf-8")
    return path


def write_credentials(values: dict[str, str]) -> None:
    """Secrets in a file only its owner reads, for scripts and examples."""
    CREDENTIALS.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(CREDENTIALS, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an older file keeps its mode through O_CREAT
    with os.fdopen(fd, "w") as out:
        json.dump(values, out, indent=2)
        out.write("\n")


def main() -> None:
    info = stack_up()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": info["kafka_bootstrap_servers"],
        "MONGODB_URL": info["mongodb_url"],
    }
    env.setdefault("HUMAN_QUEUE_ENV", "dev")
    env.setdefault("INGEST_ENV", "dev")
    # The demo asks for a rating after a resolution, so /chat shows the whole hand-off.
    env.setdefault("HUMAN_QUEUE_NOTICES", '{"disable": []}')
    if not env.get("HUMAN_QUEUE_ADMIN_TOKEN"):
        env["HUMAN_QUEUE_ADMIN_TOKEN"] = secrets.token_urlsafe(24)
    if not env.get("INGEST_ADMIN_TOKEN"):
        env["INGEST_ADMIN_TOKEN"] = env["HUMAN_QUEUE_ADMIN_TOKEN"]
    admin_token = env["HUMAN_QUEUE_ADMIN_TOKEN"]
    ingest_admin = env["INGEST_ADMIN_TOKEN"]

    programs: list[tuple[Program, subprocess.Popen[bytes]]] = []
    if not env.get("OPENAI_API_KEY"):
        env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{SCRIPTED_MODEL.port}/v1"
        env["OPENAI_API_KEY"] = "scripted"
        # The demo model writes at a person-readable pace, so /chat shows replies streaming.
        env.setdefault("SCRIPTED_MODEL_LATENCY_MS", "400")
        env.setdefault("SCRIPTED_MODEL_STREAM_TOKENS_PER_S", "30")
        if "AI_RESPONDER_TOOLS_FILE" not in env:
            env["AI_RESPONDER_TOOLS_FILE"] = str(write_demo_tools())
        programs.append((SCRIPTED_MODEL, start(SCRIPTED_MODEL, env)))
    programs += [(p, start(p, env)) for p in SERVICES]

    def stop(*_: object) -> None:
        for _program, proc in programs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for _program, proc in programs:
            try:
                proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                proc.kill()
        print("services stopped; the Kafka/MongoDB stack keeps running (`make stack-down`)")
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        for program, proc in programs:
            wait_healthy(program, proc)
        gateway_key = demo_gateway_key(ingest_admin)
        credentials = {"admin_token": admin_token, "gateway_key": gateway_key}
        if ingest_admin != admin_token:
            credentials["ingest_admin_token"] = ingest_admin
        write_credentials(credentials)
        model = (
            "scripted demo model"
            if SCRIPTED_MODEL in (p for p, _ in programs)
            else env.get("OPENAI_BASE_URL", "OpenAI")
        )
        admin_for = "agents and gateways" if ingest_admin == admin_token else "agents"
        demo_tools_line = (
            f"  demo tools    order_status, credit_order (approval above {APPROVAL_ABOVE}): "
            'try "Please refund 30 EUR for order 1234"\n'
            if env.get("AI_RESPONDER_TOOLS_FILE") == str(DEMO_TOOLS)
            else ""
        )
        ingest_admin_line = (
            f"  ingest admin  {ingest_admin}   (create gateways with it)\n"
            if ingest_admin != admin_token
            else ""
        )
        print(
            "\nBaton is running:\n"
            f"  ingest        http://127.0.0.1:8001/docs   (gateways: threads and messages)\n"
            f"  human-queue   http://127.0.0.1:8004/docs   (agents: tickets)\n"
            "  console       http://127.0.0.1:8004/console   (play the agent: a token from "
            "`uv run baton-queue agents create`)\n"
            f"  web chat      {chat_url(gateway_key)}   (play the customer)\n"
            f"  router        http://127.0.0.1:8002/health/ready\n"
            f"  ai-responder  http://127.0.0.1:8003/health/ready   model: {model}\n"
            f"{demo_tools_line}"
            f"  metrics       http://127.0.0.1:800[1-4]/metrics\n"
            f"  kafka         {info['kafka_bootstrap_servers']}\n"
            f"  mongodb       {info['mongodb_url']}\n"
            f"  admin token   {admin_token}   (create {admin_for} with it)\n"
            f"{ingest_admin_line}"
            f"  gateway key   {gateway_key}   (the demo gateway's: send it to ingest)\n"
            f"  credentials   {CREDENTIALS}   (both, for scripts)\n"
            f"  logs          {LOGS}/\n"
            "Ctrl-C stops the services.",
            flush=True,
        )
        while all(proc.poll() is None for _, proc in programs):
            time.sleep(0.5)
        dead = [p.name for p, proc in programs if proc.poll() is not None]
        print(f"stopped unexpectedly: {', '.join(dead)}; see {LOGS}/", file=sys.stderr)
        stop()
    except KeyboardInterrupt:
        stop()


if __name__ == "__main__":
    main()
