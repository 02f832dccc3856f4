"""The Helm chart (deploy/helm/baton) with a real helm, built under .tools/helm from the
version pinned in scripts/helm: it lints, renders for a minimal, a production and a
development install, every manifest passes the Kubernetes schemas (kubernetes-validate,
strict: unknown fields are errors) or its custom resource's own schema (KEDA, Prometheus
Operator CRDs at pinned versions), and the rendered objects do what docs/operations.md says.

helm and the CRDs come from the Go module proxy on first use; when they cannot, the tests
fail with the reason, never skip.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import SchemaNotFoundError, ValidationError

pytestmark = pytest.mark.timeout(2400)

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "baton"
KUBERNETES = "1.31.0"
"""The oldest Kubernetes the chart is checked against (its kubeVersion allows 1.27 up)."""
SERVICES = ("ingest", "router", "ai-responder", "human-queue")
SECRETS = {
    "mongodbUrl": "mongodb://baton:pw@mongo-0.mongo:27017/?tls=true&replicaSet=rs0",
    "ingestAdminToken": "ingest-admin-token-0123456789",
    "humanQueueAdminToken": "queue-admin-token-0123456789",
    "openaiApiKey": "sk-test",
}
MINIMAL: dict[str, Any] = {"secrets": {"values": SECRETS}}
PRODUCTION: dict[str, Any] = {
    "secrets": {"existingSecret": "baton-secrets"},
    "kafka": {"caSecret": {"name": "kafka-ca", "key": "ca.crt"}, "topicPrefix": "prod."},
    "mongodb": {"caSecret": {"name": "mongo-ca", "key": "ca.pem"}},
    "routingRules": [{"name": "vip-tier", "user_tiers": ["vip"]}],
    "metrics": {"serviceMonitor": {"enabled": True}},
    "tracing": {"otlpEndpoint": "http://otel-collector.observability.svc:4318"},
    "services": {
        "ai-responder": {"keda": {"enabled": True}},
        "router": {"keda": {"enabled": True}},
    },
}
DEVELOPMENT: dict[str, Any] = {
    "secrets": {"values": SECRETS},
    "kafka": {"securityProtocol": "PLAINTEXT", "createTopics": True, "topicReplicationFactor": 1},
    "services": {name: {"autoscaling": {"enabled": False}, "replicas": 1} for name in SERVICES},
}


def helm_cli() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "baton_helm_cli", ROOT / "scripts" / "helm_cli.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def helm() -> Path:
    cli = helm_cli()
    try:
        binary: Path = cli.install()
    except cli.HelmMissingError as exc:
        pytest.fail(f"helm cannot be built: {exc}", pytrace=False)
    return binary


@pytest.fixture(scope="module")
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> the CRD's openAPIV3Schema."""
    cli = helm_cli()
    try:
        paths = cli.crds()
    except cli.HelmMissingError as exc:
        pytest.fail(f"the CRDs cannot be fetched: {exc}", pytrace=False)
    schemas = {}
    for path in paths:
        crd = yaml.safe_load(path.read_text())
        for version in crd["spec"]["versions"]:
            api_version = f"{crd['spec']['group']}/{version['name']}"
            schemas[(api_version, crd["spec"]["names"]["kind"])] = version["schema"][
                "openAPIV3Schema"
            ]
    return schemas


def run_helm(helm: Path, *args: str, values: dict[str, Any], tmp_path: Path) -> str:
    file = tmp_path / "values.yaml"
    file.write_text(yaml.safe_dump(values))
    done = subprocess.run(  # noqa: S603 - the helm we built, our own arguments
        [str(helm), *args, "-f", str(file)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise HelmFailedError(done.stderr or done.stdout)
    return done.stdout


class HelmFailedError(Exception):
    pass


def render(helm: Path, values: dict[str, Any], tmp_path: Path) -> list[dict[str, Any]]:
    out = run_helm(helm, "template", "baton", str(CHART), values=values, tmp_path=tmp_path)
    return [doc for doc in yaml.safe_load_all(out) if doc]


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [found] = deployment["spec"]["template"]["spec"]["containers"]
    c: dict[str, Any] = found
    return c


def env(deployment: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(deployment)["env"]}


def problems(docs: list[dict[str, Any]], crds: dict[tuple[str, str], Any]) -> Iterator[str]:
    for doc in docs:
        where = f"{doc['kind']} {doc['metadata']['name']}"
        schema = crds.get((doc["apiVersion"], doc["kind"]))
        if schema is not None:
            for error in jsonschema.Draft7Validator(schema).iter_errors(doc):
                yield f"{where}: {error.message} at {list(error.path)}"
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except SchemaNotFoundError:
            yield f"{where}: no schema for {doc['apiVersion']} {doc['kind']}"
        except ValidationError as error:
            yield f"{where}: {error.message} at {list(error.path)}"


@pytest.mark.parametrize(
    ("name", "values"),
    [("minimal", MINIMAL), ("production", PRODUCTION), ("development", DEVELOPMENT)],
)
def test_the_chart_lints_and_every_manifest_passes_its_schema(
    helm: Path,
    crd_schemas: dict[tuple[str, str], Any],
    tmp_path: Path,
    name: str,
    values: dict[str, Any],
) -> None:
    run_helm(helm, "lint", "--strict", str(CHART), values=values, tmp_path=tmp_path)
    docs = render(helm, values, tmp_path)
    assert len(of_kind(docs, "Deployment")) == len(SERVICES)
    assert list(problems(docs, crd_schemas)) == []


def test_the_schema_check_catches_a_broken_manifest(
    helm: Path, crd_schemas: dict[tuple[str, str], Any], tmp_path: Path
) -> None:
    docs = render(helm, PRODUCTION, tmp_path)
    deployment = of_kind(docs, "Deployment")["baton-router"]
    container(deployment)["livenessProbe"]["httpGet"]["paht"] = "/health/live"
    scaled = of_kind(docs, "ScaledObject")["baton-router"]
    scaled["spec"]["minReplicaCount"] = "two"
    found = list(problems([deployment, scaled], crd_schemas))
    assert len(found) == 2, found
    assert "paht" in found[0]
    assert "two" in found[1]


def test_values_are_checked_against_the_charts_schema(helm: Path, tmp_path: Path) -> None:
    for wrong, why in (
        ({"kafka": {"securityProtocol": "TLS"}}, "securityProtocol"),
        ({"secrets": {"values": {**SECRETS, "ingestAdminToken": "short"}}}, "ingestAdminToken"),
        ({"services": {"router": {"replica": 3}}}, "replica"),
    ):
        with pytest.raises(HelmFailedError, match=why):
            render(helm, {**MINIMAL, **wrong}, tmp_path)
    with pytest.raises(HelmFailedError, match=r"secrets\.values\.mongodbUrl is required"):
        render(helm, {"secrets": {"values": {}}}, tmp_path)


def test_every_service_is_probed_bounded_and_locked_down(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, MINIMAL, tmp_path)
    deployments = of_kind(docs, "Deployment")
    for name in SERVICES:
        deployment = deployments[f"baton-{name}"]
        spec = deployment["spec"]["template"]["spec"]
        c = container(deployment)
        assert c["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert c["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert c["resources"]["requests"]["cpu"]
        assert c["resources"]["limits"]["memory"]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
        variables = env(deployment)
        assert variables["HTTP_METRICS_PORT"] == "9464"
        assert variables["MONGODB_URL"] == {
            "secretKeyRef": {"name": "baton-secrets", "key": "mongodbUrl"}
        }
        # No secret is ever a plain value in a manifest.
        plain = {k: v for k, v in variables.items() if isinstance(v, str)}
        assert not set(plain.values()) & set(SECRETS.values())
    secret = of_kind(docs, "Secret")["baton-secrets"]
    assert secret["stringData"]["ingestAdminToken"] == SECRETS["ingestAdminToken"]
    assert env(deployments["baton-ingest"])["INGEST_ADMIN_TOKEN"] == {
        "secretKeyRef": {"name": "baton-secrets", "key": "ingestAdminToken"}
    }
    assert set(of_kind(docs, "PodDisruptionBudget")) == {f"baton-{s}" for s in SERVICES}
    assert set(of_kind(docs, "HorizontalPodAutoscaler")) == {f"baton-{s}" for s in SERVICES}


def test_production_talks_tls_and_sasl_and_scales_on_lag(helm: Path, tmp_path: Path) -> None:
    docs = render(helm, PRODUCTION, tmp_path)
    assert "baton-secrets" not in of_kind(docs, "Secret"), "the existing Secret is used"
    router = of_kind(docs, "Deployment")["baton-router"]
    variables = env(router)
    assert variables["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert variables["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert variables["KAFKA_SASL_PASSWORD"] == {
        "secretKeyRef": {"name": "baton-secrets", "key": "kafkaSaslPassword"}
    }
    assert variables["KAFKA_SSL_CA_FILE"] == "/etc/baton/kafka-ca/ca.crt"
    assert variables["MONGODB_TLS_CA_FILE"] == "/etc/baton/mongodb-ca/ca.crt"
    assert variables["ROUTER_RULES_FILE"] == "/etc/baton/config/routing-rules.yaml"
    rules = yaml.safe_load(of_kind(docs, "ConfigMap")["baton-config"]["data"]["routing-rules.yaml"])
    assert rules == {"rules": PRODUCTION["routingRules"]}
    # KEDA replaces the HPA of the services it scales, one lag trigger per group and topic.
    assert set(of_kind(docs, "HorizontalPodAutoscaler")) == {"baton-ingest", "baton-human-queue"}
    scaled = of_kind(docs, "ScaledObject")
    assert set(scaled) == {"baton-router", "baton-ai-responder"}
    triggers = scaled["baton-ai-responder"]["spec"]["triggers"]
    assert {(t["metadata"]["consumerGroup"], t["metadata"]["topic"]) for t in triggers} == {
        ("prod.baton-ai-responder", f"prod.{topic}")
        for topic in (
            "route.decided",
            "human.responded",
            "draft.approved",
            "draft.rejected",
            "action.decided",
            "ticket.expired",
            "ticket.opened",
        )
    }
    assert {t["authenticationRef"]["name"] for t in triggers} == {"baton-kafka"}
    auth = of_kind(docs, "TriggerAuthentication")["baton-kafka"]["spec"]["secretTargetRef"]
    assert {ref["parameter"] for ref in auth} == {"sasl", "tls", "username", "password", "ca"}
    monitors = of_kind(docs, "ServiceMonitor")
    assert {
        m["spec"]["endpoints"][0]["relabelings"][0]["replacement"] for m in monitors.values()
    } == set(SERVICES)


def test_traces_are_exported_only_where_an_endpoint_is_given(helm: Path, tmp_path: Path) -> None:
    quiet = of_kind(render(helm, MINIMAL, tmp_path), "Deployment")
    assert not any(
        name.startswith("OTEL_") for deployment in quiet.values() for name in env(deployment)
    )
    traced = of_kind(render(helm, PRODUCTION, tmp_path), "Deployment")
    endpoint = PRODUCTION["tracing"]["otlpEndpoint"]
    assert {env(d)["OTEL_EXPORTER_OTLP_ENDPOINT"] for d in traced.values()} == {endpoint}
    with pytest.raises(HelmFailedError, match="otlpEndpoint"):
        render(helm, {**MINIMAL, "tracing": {"otlpEndpoint": "jaeger:4318"}}, tmp_path)


def test_the_ai_tools_come_from_the_config_map_and_their_secrets_from_yours(
    helm: Path, tmp_path: Path
) -> None:
    tools = {
        "tools": [
            {
                "name": "lookup_order",
                "description": "Look up an order.",
                "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}},
                "approval": "never",
                "http": {
                    "method": "GET",
                    "url": "https://orders.internal/v1/orders/{order_id}",
                    "headers": {"Authorization": "Bearer ${ORDERS_TOKEN}"},
                },
            }
        ]
    }
    docs = render(helm, {**MINIMAL, "tools": tools, "toolSecrets": "orders-api"}, tmp_path)
    data = of_kind(docs, "ConfigMap")["baton-config"]["data"]
    assert yaml.safe_load(data["tools.yaml"]) == tools
    deployments = of_kind(docs, "Deployment")
    ai = deployments["baton-ai-responder"]
    assert env(ai)["AI_RESPONDER_TOOLS_FILE"] == "/etc/baton/config/tools.yaml"
    [container] = ai["spec"]["template"]["spec"]["containers"]
    assert container["envFrom"] == [{"secretRef": {"name": "orders-api"}}]
    others = [d for name, d in deployments.items() if name != "baton-ai-responder"]
    assert not any("AI_RESPONDER_TOOLS_FILE" in env(d) for d in others)
    assert not any("envFrom" in d["spec"]["template"]["spec"]["containers"][0] for d in others)
    # Not given: no file to read, no secret to mount.
    plain = of_kind(render(helm, MINIMAL, tmp_path), "Deployment")["baton-ai-responder"]
    assert "AI_RESPONDER_TOOLS_FILE" not in env(plain)


def test_notices_and_business_hours_come_from_the_config_map(helm: Path, tmp_path: Path) -> None:
    notices = {"departments": {"billing": {"enable": ["rating"]}}}
    hours = {
        "departments": {
            "billing": {"timezone": "Europe/Berlin", "hours": {"mon-fri": "09:00-17:00"}}
        }
    }
    docs = render(helm, {**MINIMAL, "notices": notices, "businessHours": hours}, tmp_path)
    deployments = of_kind(docs, "Deployment")
    data = of_kind(docs, "ConfigMap")["baton-config"]["data"]
    assert yaml.safe_load(data["notices.yaml"]) == notices
    assert yaml.safe_load(data["business-hours.yaml"]) == hours
    assert env(deployments["baton-human-queue"])["HUMAN_QUEUE_NOTICES_FILE"] == (
        "/etc/baton/config/notices.yaml"
    )
    read_hours = {name for name, d in deployments.items() if "BUSINESS_HOURS_FILE" in env(d)}
    assert read_hours == {"baton-router", "baton-human-queue"}
    # Not given: the services keep their defaults, and are not pointed at an empty file.
    plain = of_kind(render(helm, MINIMAL, tmp_path), "Deployment")
    assert not any(
        {"HUMAN_QUEUE_NOTICES_FILE", "BUSINESS_HOURS_FILE"} & env(d).keys() for d in plain.values()
    )


def test_the_consumer_groups_are_the_ones_the_services_use() -> None:
    """KEDA reads lag by group and topic: the chart's map must match the services' wiring
    (the AsyncAPI document's consumers, which a unit test ties to the code)."""
    from baton_contracts.asyncapi import CONSUMERS

    values = yaml.safe_load((CHART / "values.yaml").read_text())
    charted = {
        (service, topic)
        for service, groups in values["consumerGroups"].items()
        for topics in groups.values()
        for topic in topics
    }
    wired = {
        (service, topic) for topic, by in CONSUMERS.items() for service in by if service in SERVICES
    }
    assert charted == wired
