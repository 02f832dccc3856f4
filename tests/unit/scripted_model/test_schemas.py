"""Minimal instances and conforming candidates for arbitrary JSON schemas."""

from __future__ import annotations

from typing import Any

import pytest

from baton_scripted_model.schemas import conform, fits, minimal_instance

NESTED: dict[str, Any] = {
    "type": "object",
    "$defs": {
        "Item": {
            "type": "object",
            "properties": {"sku": {"type": "string", "minLength": 3}, "qty": {"type": "integer"}},
            "required": ["sku", "qty"],
        },
        "Kind": {"type": "string", "enum": ["order", "return"]},
    },
    "properties": {
        "kind": {"$ref": "#/$defs/Kind"},
        "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "minItems": 1},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "count": {"type": "integer", "minimum": 2},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 0.5},
        "fixed": {"const": "v1"},
        "both": {
            "allOf": [
                {"$ref": "#/$defs/Item"},
                {"properties": {"x": {"type": "boolean"}}, "required": ["x"]},
            ]
        },
        "optional": {"type": "string"},
    },
    "required": ["kind", "items", "note", "count", "ratio", "fixed", "both"],
}


def test_minimal_instance_of_a_nested_schema_is_valid() -> None:
    instance = minimal_instance(NESTED)
    assert instance == {
        "kind": "order",
        "items": [{"sku": "xxx", "qty": 0}],
        "note": "",
        "count": 2,
        "ratio": 0.5,
        "fixed": "v1",
        "both": {"sku": "xxx", "qty": 0, "x": False},
    }
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(instance, NESTED)


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, ""),
        ({"type": "integer"}, 0),
        ({"type": "number"}, 0),
        ({"type": "boolean"}, False),
        ({"type": "null"}, None),
        ({"type": ["integer", "null"]}, 0),
        ({"type": "array"}, []),
        ({"enum": [3, 4]}, 3),
        ({}, None),
        ({"$ref": "#/missing"}, None),
    ],
)
def test_minimal_instance_of_simple_schemas(schema: dict[str, Any], expected: Any) -> None:
    assert minimal_instance(schema) == expected


def test_recursive_references_terminate() -> None:
    schema = {
        "$ref": "#/$defs/Node",
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"next": {"$ref": "#/$defs/Node"}},
                "required": ["next"],
            }
        },
    }
    assert isinstance(minimal_instance(schema), dict)


def test_fits_distinguishes_json_types() -> None:
    assert fits(True, {"type": "boolean"})
    assert not fits(True, {"type": "integer"})
    assert not fits(1.5, {"type": "integer"})
    assert fits(1, {"type": "number"})
    assert fits(None, {"anyOf": [{"type": "string"}, {"type": "null"}]})
    assert not fits("maybe", {"type": "string", "enum": ["ai", "human"]})


def test_conform_keeps_fitting_declared_keys_and_fills_required_ones() -> None:
    schema = {
        "type": "object",
        "properties": {"handler": {"enum": ["ai", "human"]}, "score": {"type": "number"}},
        "required": ["handler", "score"],
        "additionalProperties": False,
    }
    assert conform({"handler": "human", "score": 0.7, "extra": 1}, schema) == {
        "handler": "human",
        "score": 0.7,
    }
    assert conform({"handler": "robot"}, schema) == {"handler": "ai", "score": 0}
    assert conform({"a": 1}, None) == {"a": 1}
    assert conform({"a": 1}, {"type": "object"}) == {"a": 1}
