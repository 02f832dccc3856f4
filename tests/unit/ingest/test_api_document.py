"""Ingest's OpenAPI document says which credential each operation takes, and states the
input rules ingest checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from baton_ingest.app import create_app
from baton_ingest.domain import IngestError
from baton_ingest.inputs import check_metadata, check_thread_id, check_user_id
from baton_runtime import KafkaSettings, MongoSettings
from tests.support.pipeline import service_settings

DOCUMENT = create_app(
    service_settings(KafkaSettings(), MongoSettings(), "http://model.test")["ingest"]
).openapi()


def test_each_operation_names_the_credential_it_takes() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert {name: (s["type"], s["scheme"]) for name, s in schemes.items()} == {
        "gatewayKey": ("http", "bearer"),
        "adminToken": ("http", "bearer"),
    }
    for path, item in DOCUMENT["paths"].items():
        for op in item.values():
            if path.startswith("/v1/admin"):
                assert op["security"] == [{"adminToken": []}], path
            elif path.startswith("/v1/"):
                assert op["security"] == [{"gatewayKey": []}], path
                assert {"401", "429"} <= set(op["responses"]), path
            else:
                assert "security" not in op, path


def _pattern(schema: dict[str, Any]) -> re.Pattern[str]:
    return re.compile(schema["pattern"])


def _passes(check: Callable[[Any], None], value: Any) -> bool:
    try:
        check(value)
    except IngestError:
        return False
    return True


def test_the_documented_rules_are_the_checked_ones() -> None:
    create = DOCUMENT["components"]["schemas"]["CreateThread"]["properties"]
    for value in ("alice@example.com", "a b", "x" * 201, "auth0|1", ""):
        assert bool(_pattern(create["user_id"]).match(value)) == _passes(check_user_id, value)

    parameters = DOCUMENT["paths"]["/v1/threads/{thread_id}"]["get"]["parameters"]
    [thread_id] = [p for p in parameters if p["name"] == "thread_id"]
    for value in ("3f2a", "a/b", "x" * 129):
        assert bool(_pattern(thread_id["schema"]).match(value)) == _passes(check_thread_id, value)

    metadata = create["metadata"]
    assert metadata["maxProperties"] == 32
    for key in ("locale", "a.b", "$x", "k" * 65):
        documented = bool(_pattern(metadata["propertyNames"]).match(key))
        assert documented == _passes(check_metadata, {key: "v"}), key
