"""The provisioning in deploy/ holds together: promtool accepts the configuration and the
rules, the alerts pass their promtool tests, dashboards are well formed, and docker compose
mounts what Grafana and Prometheus read. The compose files are valid, and secure by
default: no placeholder secrets, nothing in dev mode, only the APIs and the dashboards
published (on loopback), Kafka and MongoDB only when asked."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import urllib.parse
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from .compose import Compose
from .prometheus import Tools
from .promql import (
    DASHBOARDS,
    PROMETHEUS,
    ROOT,
    dashboards,
    panels,
    rule_files,
    rule_queries,
)

JOBS = {"ingest", "router", "ai-responder", "human-queue"}
PANEL_TYPES = {"timeseries", "stat", "bargauge"}
EXPECTED_DASHBOARDS = {"overview.json", "human-queue.json", "ai.json", "pipeline.json"}


def _passed(done: Any) -> str:
    return f"{done.stdout}\n{done.stderr}"


# The first use builds Prometheus 3 (make tools does it before a full run).
@pytest.mark.timeout(1800)
def test_promtool_accepts_the_config_and_the_rules(prometheus_tools: Tools) -> None:
    config = prometheus_tools.promtool_run("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert config.returncode == 0, _passed(config)
    rules = prometheus_tools.promtool_run("check", "rules", *map(str, rule_files()))
    assert rules.returncode == 0, _passed(rules)


# The first use builds Prometheus 3 (make tools does it before a full run).
@pytest.mark.timeout(1800)
def test_the_alerts_pass_their_promtool_tests(prometheus_tools: Tools) -> None:
    tests = sorted((PROMETHEUS / "tests").glob("*.yml"))
    assert tests
    done = prometheus_tools.promtool_run("test", "rules", *map(str, tests))
    assert done.returncode == 0, _passed(done)


def test_every_alert_says_how_bad_and_what_to_do() -> None:
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                name = rule["alert"]
                assert rule.get("for"), f"{name} has no `for:`"
                assert rule["labels"]["severity"] in {"warning", "critical"}, name
                assert {"summary", "description"} <= set(rule["annotations"]), name
    alerts = {q.source.split(" / ")[1] for q in rule_queries() if q.kind == "alert"}
    assert {
        "BatonSlaBreached",
        "BatonQueueGrowing",
        "BatonDeadLetters",
        "BatonLlmErrorRateHigh",
    } <= alerts


def test_prometheus_scrapes_every_service_as_its_own_job() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert {job["job_name"] for job in config["scrape_configs"]} == JOBS


def test_dashboards_are_well_formed() -> None:
    boards = dashboards()
    assert set(boards) == EXPECTED_DASHBOARDS
    uids = [board["uid"] for board in boards.values()]
    assert len(set(uids)) == len(uids)
    for name, board in boards.items():
        assert board["schemaVersion"] >= 39, name
        assert board["title"].startswith("Baton"), name
        ids = [panel["id"] for panel in panels(board)]
        assert len(set(ids)) == len(ids), f"{name}: panel ids repeat"
        cells: set[tuple[int, int]] = set()
        for panel in panels(board):
            where = f"{name} / {panel.get('title')!r}"
            assert panel["type"] in PANEL_TYPES, where
            assert panel["title"], where
            assert panel["description"], where
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, where
            assert panel["fieldConfig"]["defaults"].get("unit"), f"{where}: no unit"
            assert panel["targets"], where
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "prometheus", where
                assert target["expr"].strip(), where
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, f"{where}: wider than the grid"
            mine = {
                (x, y)
                for x in range(pos["x"], pos["x"] + pos["w"])
                for y in range(pos["y"], pos["y"] + pos["h"])
            }
            assert not cells & mine, f"{where} overlaps another panel"
            cells |= mine


def test_grafana_is_provisioned_from_deploy_by_docker_compose() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    mounts = {m.split(":")[0]: m.split(":")[1] for m in grafana["volumes"]}
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/baton.yml").read_text()
    )["providers"][0]
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/overview.json"
    assert (DASHBOARDS / "overview.json").exists()

    datasource = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text()
    )["datasources"][0]
    assert datasource["uid"] == "prometheus"
    prometheus = compose["services"]["prometheus"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert datasource["url"] == "http://prometheus:9090"


@pytest.mark.parametrize("name", sorted(EXPECTED_DASHBOARDS))
def test_each_dashboard_links_to_the_others(name: str) -> None:
    board = dashboards()[name]
    assert "baton" in board["tags"]
    assert any(link.get("tags") == ["baton"] for link in board["links"])


COMPOSE = ROOT / "docker-compose.yml"
EXPOSE = ROOT / "docker-compose.expose.yml"
METRICS_PORT = "9464"


def compose_env() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "baton_compose_env", ROOT / "scripts" / "compose_env.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def services(path: Path = COMPOSE) -> dict[str, Any]:
    found: dict[str, Any] = yaml.safe_load(path.read_text())["services"]
    return found


def test_make_up_generates_the_secrets_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    generator = compose_env()
    env_file = tmp_path / "compose.env"
    assert sorted(generator.write(env_file)) == sorted(generator.SECRETS)
    first = env_file.read_text()
    assert env_file.stat().st_mode & 0o777 == 0o600
    assert generator.write(env_file) == []
    assert env_file.read_text() == first
    values = generator.existing(env_file)
    assert all(len(values[name]) >= 32 for name in generator.SECRETS)
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    assert required == set(generator.SECRETS)


def test_compose_accepts_the_files_with_the_generated_secrets(
    compose_tool: Compose, tmp_path: Path
) -> None:
    env_file = tmp_path / "compose.env"
    compose_env().write(env_file)
    for files in ((COMPOSE,), (COMPOSE, EXPOSE)):
        done = compose_tool.config(*files, env_file=env_file)
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"


def test_compose_refuses_to_start_without_the_secrets(
    compose_tool: Compose, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    done = compose_tool.config(COMPOSE, env_file=empty)
    assert done.returncode != 0
    assert "make up" in f"{done.stdout}{done.stderr}"


def test_compose_has_no_placeholder_secret_and_no_dev_mode() -> None:
    text = COMPOSE.read_text()
    for name in re.findall(r"\$\{([A-Z_]*(?:TOKEN|PASSWORD|SECRET|KEY)[A-Z_]*):-", text):
        assert name == "OPENAI_API_KEY", f"{name} has a default"
    for service, spec in services().items():
        environment = spec.get("environment") or {}
        for name, value in environment.items():
            assert not (name.endswith("_ENV") and "dev" in str(value)), f"{service}: {name}"
        assert "change-me" not in str(environment), service


def test_only_the_apis_and_dashboards_are_published_and_on_loopback() -> None:
    published = {name: spec["ports"] for name, spec in services().items() if spec.get("ports")}
    assert set(published) == {"ingest", "human-queue", "prometheus", "grafana", "jaeger"}
    for name, ports in published.items():
        assert all(str(port).startswith("127.0.0.1:") for port in ports), name
    exposed = services(EXPOSE)
    assert set(exposed) == {"kafka", "mongo"}
    for name, spec in exposed.items():
        assert all(str(port).startswith("127.0.0.1:") for port in spec["ports"]), name


def test_prometheus_scrapes_the_metrics_port_the_services_serve() -> None:
    anchors = yaml.safe_load(COMPOSE.read_text())["x-baton-env"]
    assert anchors["HTTP_METRICS_PORT"] == METRICS_PORT
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    for job in config["scrape_configs"]:
        [target] = job["static_configs"][0]["targets"]
        assert target == f"{job['job_name']}:{METRICS_PORT}", target
        assert job["job_name"] in services()


def explore_queries(url: str) -> list[dict[str, Any]]:
    """The queries of a link to Grafana's Explore."""
    parts = urllib.parse.urlsplit(url)
    assert parts.path == "/explore", url
    [panes] = urllib.parse.parse_qs(parts.query)["panes"]
    return [query for pane in json.loads(panes).values() for query in pane["queries"]]


def test_the_services_export_traces_to_jaeger_which_grafana_reads() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    endpoint = "${OTEL_EXPORTER_OTLP_ENDPOINT:-http://jaeger:4318}"
    for name in JOBS:
        assert compose["services"][name]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == endpoint
    jaeger = compose["services"]["jaeger"]
    image, tag = jaeger["image"].rsplit(":", 1)
    assert image == "jaegertracing/jaeger"
    assert re.fullmatch(r"2\.\d+\.\d+", tag), "a pinned Jaeger 2"
    assert "--set=receivers.otlp.protocols.http.endpoint=0.0.0.0:4318" in jaeger["command"]
    assert jaeger["ports"] == ["127.0.0.1:16686:16686"]
    assert "jaeger" in compose["services"]["grafana"]["depends_on"]
    datasource = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/jaeger.yml").read_text()
    )["datasources"][0]
    assert (datasource["uid"], datasource["type"], datasource["url"]) == (
        "jaeger",
        "jaeger",
        "http://jaeger:16686",
    )


def test_dashboards_link_metrics_to_the_traces_of_their_services() -> None:
    boards = dashboards()
    for name in ("overview.json", "pipeline.json", "ai.json"):
        links = [link for link in boards[name]["links"] if link["type"] == "link"]
        assert links, f"{name} links to no traces"
        for link in links:
            [query] = explore_queries(link["url"])
            assert query["datasource"] == {"type": "jaeger", "uid": "jaeger"}, name
            assert query["service"].startswith("baton-"), name
    data_links = [
        (panel["title"], link)
        for panel in panels(boards["pipeline.json"])
        for link in panel["fieldConfig"]["defaults"].get("links", [])
    ]
    assert len(data_links) >= 2
    for title, link in data_links:
        assert "service" in title.split(", by ")[-1], f"{title}: no service to search by"
        [query] = explore_queries(link["url"])
        assert query["service"] == "${__field.labels.service}", title
        assert query["datasource"]["uid"] == "jaeger", title
