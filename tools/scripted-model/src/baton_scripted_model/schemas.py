"""Just enough JSON Schema to produce structured output that fits a requested schema.

A real model under ``strict`` structured output always returns an instance of the schema;
the scripted model must too, even for schemas it knows nothing about.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

Schema = Mapping[str, Any]

# Deeper than any real response schema; it stops recursive ``$ref`` chains.
_MAX_DEPTH = 32

_TYPE_CHECKS: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "object": dict,
    "array": list,
}


def _resolve(schema: Schema, root: Schema) -> Schema:
    seen = 0
    while isinstance(schema.get("$ref"), str) and seen < _MAX_DEPTH:
        ref: str = schema["$ref"]
        if not ref.startswith("#"):
            return {}
        target: Any = root
        for token in ref.lstrip("#").strip("/").split("/"):
            if not token:
                continue
            key = token.replace("~1", "/").replace("~0", "~")
            if not isinstance(target, Mapping) or key not in target:
                return {}
            target = target[key]
        schema = target if isinstance(target, Mapping) else {}
        seen += 1
    return schema


def _types(schema: Schema) -> list[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [t for t in declared if isinstance(t, str)]
    if "properties" in schema or "required" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return []


def _merged(schemas: list[Any], root: Schema) -> Schema:
    merged: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for part in schemas:
        if not isinstance(part, Mapping):
            continue
        resolved = _resolve(part, root)
        merged.update(resolved)
        properties.update(resolved.get("properties") or {})
        required.extend(r for r in resolved.get("required") or () if r not in required)
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def minimal_instance(schema: Schema, root: Schema | None = None, _depth: int = 0) -> Any:
    """The smallest value of ``schema``: "" for strings, 0 for numbers, false, the first enum
    value, the first alternative, and of an object only its required properties."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if _depth > _MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for keyword in ("anyOf", "oneOf"):
        options = schema.get(keyword)
        if isinstance(options, list) and options and isinstance(options[0], Mapping):
            return minimal_instance(options[0], root, _depth + 1)
    if isinstance(schema.get("allOf"), list):
        return minimal_instance(_merged(schema["allOf"], root), root, _depth + 1)
    types = _types(schema)
    if not types:
        return None
    kind = types[0]
    if kind == "object":
        properties = schema.get("properties") or {}
        return {
            name: minimal_instance(properties.get(name, {}), root, _depth + 1)
            for name in schema.get("required") or ()
        }
    if kind == "array":
        count = int(schema.get("minItems") or 0)
        items = schema.get("items")
        item = minimal_instance(items, root, _depth + 1) if isinstance(items, Mapping) else None
        return [item] * count
    if kind == "string":
        return "x" * int(schema.get("minLength") or 0)
    if kind in ("integer", "number"):
        return _minimal_number(schema, integer=kind == "integer")
    if kind == "boolean":
        return False
    return None


def _minimal_number(schema: Schema, *, integer: bool) -> int | float:
    value: float = 0
    low = schema.get("minimum")
    if isinstance(low, int | float) and value < low:
        value = low
    exclusive_low = schema.get("exclusiveMinimum")
    if isinstance(exclusive_low, int | float) and value <= exclusive_low:
        value = exclusive_low + 1
    high = schema.get("maximum")
    if isinstance(high, int | float) and value > high:
        value = high
    if integer:
        return math.ceil(value)
    return value


def fits(value: Any, schema: Schema, root: Schema | None = None, _depth: int = 0) -> bool:
    """Whether ``value`` has the type, enum or const ``schema`` asks for (shallow)."""
    root = schema if root is None else root
    schema = _resolve(schema, root)
    if _depth > _MAX_DEPTH:
        return False
    if "const" in schema:
        return bool(value == schema["const"])
    enum = schema.get("enum")
    if isinstance(enum, list) and value not in enum:
        return False
    for keyword in ("anyOf", "oneOf"):
        options = schema.get(keyword)
        if isinstance(options, list):
            return any(
                fits(value, option, root, _depth + 1)
                for option in options
                if isinstance(option, Mapping)
            )
    types = _types(schema)
    if not types:
        return True
    return any(_is_type(value, kind) for kind in types)


def _is_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if isinstance(value, bool):
        # bool is an int in Python but not a number in JSON.
        return kind == "boolean"
    if kind == "integer":
        return isinstance(value, int)
    expected = _TYPE_CHECKS.get(kind)
    return expected is not None and isinstance(value, expected)


def conform(candidate: Mapping[str, Any], schema: Schema | None) -> Any:
    """``candidate`` shaped to ``schema``: its keys the schema declares (when the values fit),
    plus a minimal value for every other required property, in the order the schema lists
    its properties (a model under strict structured output writes them in that order).
    Without a schema, ``candidate``."""
    if not schema:
        return dict(candidate)
    root = schema
    resolved = _resolve(schema, root)
    properties = resolved.get("properties")
    if not isinstance(properties, Mapping):
        types = _types(resolved)
        return dict(candidate) if not types or "object" in types else minimal_instance(schema)
    required = resolved.get("required") or ()
    result: dict[str, Any] = {}
    for name, declared in properties.items():
        if name in candidate and fits(candidate[name], declared, root):
            result[name] = candidate[name]
        elif name in required:
            result[name] = minimal_instance(declared, root)
    for name in required:
        if name not in result:
            result[name] = minimal_instance(properties.get(name, {}), root)
    return result


def in_schema_order(value: Any, schema: Schema | None) -> Any:
    """An object with its keys in the order ``schema`` lists its properties (a model under
    strict structured output writes them so), keys the schema does not list after them;
    any other value as it is."""
    if not isinstance(value, Mapping) or not schema:
        return value
    properties = _resolve(schema, schema).get("properties")
    if not isinstance(properties, Mapping):
        return value
    ordered = {name: value[name] for name in properties if name in value}
    ordered.update((name, item) for name, item in value.items() if name not in ordered)
    return ordered
