"""Just enough PromQL reading to list the series an expression selects, and the
dashboards' and rules' expressions to read.

The vector selectors are found with a small tokenizer, so the tests can name what each
expression selects before any Prometheus runs: a name not followed by ``(`` that is no keyword is a metric,
its ``{...}`` are its matchers; label lists after ``by``, ``without``, ``on``,
``ignoring``, ``group_left`` and ``group_right`` and everything in ``[...]`` are skipped.
Prometheus itself still parses every expression when the test queries it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules"

KEYWORDS = frozenset(
    {
        # aggregation operators (followed by `by`/`without` rather than `(` at times)
        "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
        "bottomk", "topk", "quantile",
        # set operators and modifiers
        "and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
        "group_right", "bool", "offset", "atan2",
        "inf", "nan",
    }
)  # fmt: skip
LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})

# What Grafana puts in at query time; the test evaluates instant queries at "now" over
# windows long enough to cover the whole run.
GRAFANA_VARIABLES = {
    "$__rate_interval": "10m",
    "$__interval": "1m",
    "$__range": "1h",
}

_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: str = ""

    def __str__(self) -> str:
        return f"{self.metric}{{{self.matchers}}}" if self.matchers else self.metric


@dataclass(frozen=True)
class Query:
    """One expression of a dashboard panel or a rule, and where it comes from."""

    source: str
    expr: str
    kind: str  # "panel", "alert" or "record"

    @property
    def selectors(self) -> list[Selector]:
        return selectors(self.expr)

    @property
    def metrics(self) -> set[str]:
        return metric_names(self.expr)


def grafana_expr(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


def _closing(expr: str, start: int, opening: str, closing: str) -> int:
    """Index just past the bracket that closes the one at ``start`` (quotes respected)."""
    depth = 0
    i = start
    quote: str | None = None
    while i < len(expr):
        char = expr[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError(f"unbalanced {opening!r} in {expr!r}")


def _skip_space(expr: str, i: int) -> int:
    while i < len(expr) and expr[i].isspace():
        i += 1
    return i


def selectors(expr: str) -> list[Selector]:
    """The vector selectors of ``expr`` in order of appearance, without duplicates."""
    found: list[Selector] = []
    i = 0
    while i < len(expr):
        char = expr[i]
        if char in "\"'`":
            i = _closing_quote(expr, i)
        elif char == "[":
            i = _closing(expr, i, "[", "]")
        elif char == "{":  # a selector by matchers alone: not used by Baton's dashboards
            raise ValueError(f"a selector without a metric name in {expr!r}")
        elif char.isdigit() or (char == "." and expr[i + 1 : i + 2].isdigit()):
            # numbers and durations (0.95, 1e3, 30m)
            while i < len(expr) and (expr[i].isalnum() or expr[i] in "._"):
                i += 1
        elif _IDENT.match(expr, i):
            match = _IDENT.match(expr, i)
            assert match is not None
            name = match.group()
            i = _skip_space(expr, match.end())
            if name.lower() in LABEL_LIST_KEYWORDS:
                if i < len(expr) and expr[i] == "(":
                    i = _closing(expr, i, "(", ")")
            elif i < len(expr) and expr[i] == "(":
                pass  # a function call or an aggregation: its arguments come next
            elif name.lower() in KEYWORDS:
                pass
            else:
                matchers = ""
                if i < len(expr) and expr[i] == "{":
                    end = _closing(expr, i, "{", "}")
                    matchers = expr[i + 1 : end - 1].strip()
                    i = end
                selector = Selector(name, matchers)
                if selector not in found:
                    found.append(selector)
        else:
            i += 1
    return found


def _closing_quote(expr: str, start: int) -> int:
    quote = expr[start]
    i = start + 1
    while i < len(expr):
        if expr[i] == "\\":
            i += 2
            continue
        if expr[i] == quote:
            return i + 1
        i += 1
    raise ValueError(f"unterminated string in {expr!r}")


def metric_names(expr: str) -> set[str]:
    return {s.metric for s in selectors(expr)}


# ---------------------------------------------------------------- what the repository holds


def dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    found: list[dict[str, Any]] = []
    for panel in board.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def panel_queries() -> list[Query]:
    queries: list[Query] = []
    for name, board in dashboards().items():
        for panel in panels(board):
            for target in panel.get("targets", []):
                if target.get("expr"):
                    source = f"{name} / {panel['title']!r} / {target.get('refId', '?')}"
                    queries.append(Query(source, grafana_expr(target["expr"]), "panel"))
    return queries


def rule_files() -> list[Path]:
    return sorted(RULES.glob("*.yml"))


def rule_queries() -> list[Query]:
    queries: list[Query] = []
    for path in rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                kind = "alert" if "alert" in rule else "record"
                name = rule.get("alert") or rule.get("record")
                queries.append(Query(f"{path.name} / {name}", rule["expr"].strip(), kind))
    return queries


def recorded_names() -> set[str]:
    return {q.source.split(" / ")[1] for q in rule_queries() if q.kind == "record"}
