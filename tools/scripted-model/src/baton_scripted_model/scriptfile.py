"""Reading a script of rules from a YAML or JSON file."""

from __future__ import annotations

from pathlib import Path

import yaml

from .rules import Rule, ScriptError, parse_rules


def load_script_file(path: Path) -> list[Rule]:
    """The rules in ``path`` (YAML, of which JSON is a subset)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScriptError(f"cannot read script {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ScriptError(f"script {path} is not valid YAML/JSON: {exc}") from exc
    try:
        return parse_rules(data)
    except ScriptError as exc:
        raise ScriptError(f"script {path}: {exc}") from exc
