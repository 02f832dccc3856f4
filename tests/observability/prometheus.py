"""A real Prometheus for tests: Debian's ``prometheus`` package, installed when missing,
run as a plain process (no systemd) on a loopback port with its data in a temporary
directory."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from baton_testkit import free_port
from tests.support.waiting import eventually

INSTALL_TIMEOUT_S = 900
POLICY_RC = Path("/usr/sbin/policy-rc.d")


class PrometheusMissingError(Exception):
    """Prometheus is not installed and cannot be installed here; the message says why."""


@dataclass(frozen=True)
class Tools:
    prometheus: str
    promtool: str

    def promtool_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - the installed promtool, our own arguments
            [self.promtool, *args], capture_output=True, text=True, check=False, timeout=120
        )


def _which() -> Tools | None:
    prometheus = shutil.which("prometheus")
    promtool = shutil.which("promtool")
    return Tools(prometheus, promtool) if prometheus and promtool else None


def find_or_install() -> Tools:
    """``prometheus`` and ``promtool`` from PATH; else install Debian's package (as root)."""
    found = _which()
    if found is not None:
        return found
    if shutil.which("apt-get") is None:
        raise PrometheusMissingError(
            "prometheus and promtool are not on PATH and this is no Debian-like system "
            "(no apt-get); install Prometheus 2.x and put both binaries on PATH"
        )
    if os.geteuid() != 0:
        raise PrometheusMissingError(
            "prometheus and promtool are not on PATH, and installing Debian's prometheus "
            "package needs root: run `sudo apt-get install --no-install-recommends prometheus`"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _no_service_start():
        for command in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"],
        ):
            done = subprocess.run(  # noqa: S603 - fixed apt-get commands
                command, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S
            )
            if done.returncode != 0:
                raise PrometheusMissingError(
                    f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stderr[-2000:]}"
                )
    found = _which()
    if found is None:
        raise PrometheusMissingError("Debian's prometheus package installed no prometheus binary")
    return found


@contextlib.contextmanager
def _no_service_start() -> Iterator[None]:
    """The package's scripts would start a Prometheus daemon on :9090; policy-rc.d saying
    101 ("action forbidden") keeps invoke-rc.d and deb-systemd-invoke from doing so."""
    if POLICY_RC.exists():
        yield
        return
    POLICY_RC.write_text("#!/bin/sh\nexit 101\n")
    POLICY_RC.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC.unlink(missing_ok=True)


def scrape_config(
    targets: Mapping[str, str], rule_files: Sequence[Path], *, interval: str = "1s"
) -> dict[str, Any]:
    """One job per service, named as in deploy/prometheus/prometheus.yml."""
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": job,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [urlsplit(url).netloc]}],
            }
            for job, url in targets.items()
        ],
    }


@dataclass
class Prometheus:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    http: httpx.AsyncClient

    async def query(self, expr: str) -> dict[str, Any]:
        """The whole answer of an instant query (``status``, ``data`` or ``error``)."""
        response = await self.http.get("/api/v1/query", params={"query": expr})
        answer: dict[str, Any] = response.json()
        return answer

    async def result(self, expr: str) -> list[dict[str, Any]]:
        answer = await self.query(expr)
        assert answer["status"] == "success", f"{expr}: {answer.get('error')}"
        found: list[dict[str, Any]] = answer["data"]["result"]
        return found

    async def value(self, expr: str) -> float | None:
        """The value of a query returning one sample, None when it returns nothing."""
        result = await self.result(expr)
        return float(result[0]["value"][1]) if result else None

    async def metric_names(self) -> set[str]:
        response = await self.http.get("/api/v1/label/__name__/values")
        names: list[str] = response.json()["data"]
        return set(names)

    async def api(self, path: str) -> Any:
        response = await self.http.get(path)
        response.raise_for_status()
        return response.json()["data"]

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@contextlib.asynccontextmanager
async def running_prometheus(
    tools: Tools, *, targets: Mapping[str, str], rule_files: Sequence[Path], workdir: Path
) -> AsyncIterator[Prometheus]:
    port = free_port()
    config = workdir / "prometheus.yml"
    config.write_text(json.dumps(scrape_config(targets, rule_files), indent=2))
    checked = tools.promtool_run("check", "config", str(config))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    log = workdir / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 - the installed prometheus
            [
                tools.prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            server = Prometheus(url, process, log, http)

            async def ready() -> bool:
                if process.poll() is not None:
                    raise AssertionError(f"prometheus exited:\n{server.log_tail()}")
                try:
                    return (await http.get("/-/ready")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(ready, timeout=60, what="prometheus to be ready")
            yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
