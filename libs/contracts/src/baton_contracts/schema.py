"""JSON Schema export, one file per event, and the AsyncAPI document of every topic, for
gateway teams in other languages.

Run ``python -m baton_contracts.schema [DIR]`` (default: ``libs/contracts/schemas``); the
AsyncAPI document goes next to that directory, as ``asyncapi.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .asyncapi import asyncapi_document
from .events import EVENT_TYPES

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "schemas"
ASYNCAPI_NAME = "asyncapi.json"


def event_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each event, keyed by file name (``<type>.schema.json``)."""
    schemas = {}
    for cls in EVENT_TYPES:
        event_type = cls.model_fields["type"].default
        schema = cls.model_json_schema(mode="serialization")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://baton.dev/schemas/{event_type}.schema.json",
            **schema,
        }
        schemas[f"{event_type}.schema.json"] = schema
    return schemas


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in event_schemas().items():
        path = directory / name
        path.write_text(render(schema))
        written.append(path)
    return written


def write_asyncapi(path: Path) -> Path:
    path.write_text(render(asyncapi_document()))
    return path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else DEFAULT_DIR
    for path in write_schemas(directory):
        print(path)
    print(write_asyncapi(directory.parent / ASYNCAPI_NAME))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
