"""A real Prometheus for tests: Prometheus 3 (the major version compose runs), built under
.tools/prometheus from the version pinned in scripts/prometheus (scripts/go_tools.py), run
as a plain process on a loopback port with its data in a temporary directory."""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from baton_testkit import free_port
from tests.support.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]


class PrometheusMissingError(Exception):
    """Prometheus cannot be built here; the message says why."""


@dataclass(frozen=True)
class Tools:
    prometheus: str
    promtool: str

    def promtool_run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - the built promtool, our own arguments
            [self.promtool, *args], capture_output=True, text=True, check=False, timeout=120
        )


def find_or_install() -> Tools:
    """``prometheus`` and ``promtool``, built first when missing."""
    spec = importlib.util.spec_from_file_location(
        "baton_go_tools", ROOT / "scripts" / "go_tools.py"
    )
    assert spec is not None
    assert spec.loader is not None
    go_tools = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = go_tools
    spec.loader.exec_module(go_tools)
    try:
        prometheus, promtool = go_tools.TOOLS["prometheus"].install()
    except go_tools.ToolMissingError as exc:
        raise PrometheusMissingError(str(exc)) from exc
    return Tools(str(prometheus), str(promtool))


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
