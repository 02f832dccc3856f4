"""The published OpenAPI documents of ingest and the human queue: readable operation ids,
the error body on every 4xx, and the security schemes each operation takes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from baton_human_queue.app import create_app as create_human_queue
from baton_ingest.app import create_app as create_ingest
from baton_runtime import KafkaSettings, MongoSettings
from tests.support.pipeline import service_settings

METHODS = {"get", "put", "post", "patch", "delete"}
READABLE = re.compile(r"^[a-z]+(_[a-z]+)*$")


def documents() -> dict[str, dict[str, Any]]:
    settings = service_settings(KafkaSettings(), MongoSettings(), "http://model.test")
    return {
        "ingest": create_ingest(settings["ingest"]).openapi(),
        "human-queue": create_human_queue(settings["queue"]).openapi(),
    }


DOCUMENTS = documents()


def operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                assert op["operationId"] not in found, f"{op['operationId']} is not unique"
                found[op["operationId"]] = (method, path, op)
    return found


@pytest.mark.parametrize("service", sorted(DOCUMENTS))
def test_operation_ids_are_readable_names(service: str) -> None:
    for operation_id, (method, path, _) in operations(DOCUMENTS[service]).items():
        assert READABLE.match(operation_id), f"{method} {path}: {operation_id}"
        assert not operation_id.endswith(f"_{method}"), f"{method} {path}: {operation_id}"
        assert "v1" not in operation_id, f"{method} {path}: {operation_id}"


def test_the_operations_are_named_for_what_they_do() -> None:
    assert {"create_thread", "get_thread", "post_message", "list_messages"} <= set(
        operations(DOCUMENTS["ingest"])
    )
    assert {
        "list_tickets",
        "get_ticket",
        "claim_ticket",
        "release_ticket",
        "reply_to_user",
        "answer_question",
        "approve_draft",
        "reject_draft",
        "resolve_ticket",
        "get_thread_messages",
        "get_thread_ownership",
        "create_agent",
        "list_agents",
        "export_feedback",
        "get_labour_report",
    } <= set(operations(DOCUMENTS["human-queue"]))


@pytest.mark.parametrize("service", sorted(DOCUMENTS))
def test_every_4xx_declares_the_error_body(service: str) -> None:
    document = DOCUMENTS[service]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["detail", "code"]
    assert set(error["properties"]) == {"detail", "code"}
    for operation_id, (_, _, op) in operations(document).items():
        statuses = set(op["responses"])
        if "requestBody" in op:
            assert {"413", "422"} <= statuses, operation_id
        if op.get("security"):
            assert "401" in statuses, operation_id
        for status, response in op["responses"].items():
            if status.startswith("4"):
                content = response["content"]
                assert list(content) == ["application/json"], (operation_id, status)
                schema = content["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (operation_id, status)
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_human_queue_names_the_token_each_operation_takes() -> None:
    document = DOCUMENTS["human-queue"]
    schemes = document["components"]["securitySchemes"]
    assert {name: (s["type"], s.get("scheme") or s["in"]) for name, s in schemes.items()} == {
        "agentToken": ("http", "bearer"),
        "adminToken": ("http", "bearer"),
        # The live stream's single-use ticket: an EventSource sends no header.
        "streamTicket": ("apiKey", "query"),
    }
    assert all(s["description"] for s in schemes.values())
    for operation_id, (_, path, op) in operations(document).items():
        if path == "/v1/agents/me/stream":
            assert op.get("security") == [{"streamTicket": []}], operation_id
        elif path.startswith("/v1/admin"):
            assert op.get("security") == [{"adminToken": []}], operation_id
        elif path.startswith(("/v1/", "/console/")):
            assert op.get("security") == [{"agentToken": []}], operation_id
        else:
            assert path.startswith("/health"), path
            assert "security" not in op, operation_id
