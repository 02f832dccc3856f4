"""``bench.png``: the run's figures in six panels (matplotlib, from the bench group)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .stats import percentile
from .targets import (
    ADDED_P99_AT_FIXED_RATE_MS,
    HEAD_OF_LINE_MAX_MS,
    HEAD_OF_LINE_P99_MS,
    evaluate,
    verdict,
)

BLUE, GREY, ORANGE = "#2b6cb0", "#888888", "#dd6b20"


def plot(results: dict[str, Any], raw: dict[str, Sequence[float]], path: Path) -> None:
    """Draw what ``results`` holds; ``raw`` has the per-reply latencies (ms) of the
    half-load phase (``half_load``) and the head-of-line phase's ordinary replies
    (``head_of_line``). Panels of phases the run skipped say so."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is missing (uv sync --group bench): no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(2, 3, figsize=(18, 9))
    _throughput(axes[0][0], results)
    _half_load(axes[0][1], results, raw.get("half_load", ()))
    _by_rate(axes[0][2], results)
    _added(axes[1][0], results)
    _head_of_line(axes[1][1], results, raw.get("head_of_line", ()))
    _targets(axes[1][2], results)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _skipped(ax: Any, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "not measured in this run", ha="center", va="center")
    ax.set_axis_off()


def _throughput(ax: Any, results: dict[str, Any]) -> None:
    bars = [
        ("baseline relay", results.get("baseline", {}).get("per_second"), GREY),
        ("pipeline", results.get("pipeline", {}).get("per_second"), BLUE),
    ]
    fixed = results.get("model_latency", {}).get("throughput_with_fixed_model")
    if fixed:
        seconds = fixed["model"]["fixed_ms"] / 1000
        bars.append((f"pipeline, {seconds:g} s model", fixed["per_second"], ORANGE))
    shown = [(name, value, color) for name, value, color in bars if value is not None]
    if not shown:
        _skipped(ax, "Throughput")
        return
    ax.bar([b[0] for b in shown], [b[1] for b in shown], color=[b[2] for b in shown])
    ax.set_ylabel("messages / second")
    ax.set_title("Throughput")


def _half_load(ax: Any, results: dict[str, Any], latencies: Sequence[float]) -> None:
    half = results.get("latency_at_half_load")
    if not half or not latencies:
        _skipped(ax, "Latency at half load")
        return
    ax.hist(latencies, bins=40, color=BLUE)
    for q, style in ((50, "-"), (95, "--"), (99, ":")):
        ax.axvline(percentile(latencies, q), color="black", linestyle=style, label=f"p{q}")
    ax.legend()
    ax.set_xlabel("ms, ingest accept -> message.sent")
    ax.set_title(f"Latency at {half['rate_per_second']:.1f} msg/s, zero-latency model")


def _by_rate(ax: Any, results: dict[str, Any]) -> None:
    by_rate = results.get("latency_by_rate")
    if not by_rate:
        _skipped(ax, "Latency by rate")
        return
    rates = [row["rate_per_second"] for row in by_rate["rates"]]
    for quantile, marker in (("p50", "o-"), ("p99", "s-")):
        ax.plot(
            rates,
            [row["latency_without_model_ms"][quantile] for row in by_rate["rates"]],
            marker,
            label=quantile,
        )
    ax.axhline(by_rate["target_p99_ms"], color="black", linestyle=":", label="target p99")
    ax.set_yscale("log")
    ax.set_xlabel("messages / second")
    ax.set_ylabel("ms, without the model call")
    ax.set_title("Latency by rate, zero-latency model")
    ax.legend()


def _added(ax: Any, results: dict[str, Any]) -> None:
    model = results.get("model_latency", {})
    phases = [
        phase
        for phase in (
            model.get("added_latency_at_fixed_rate"),
            model.get("added_latency_at_held_rate"),
        )
        if phase
    ]
    if not phases:
        _skipped(ax, "Added latency, lognormal model")
        return
    quantiles = ("p50", "p95", "p99")
    width = 0.8 / len(phases)
    for n, phase in enumerate(phases):
        values = [phase["latency_without_model_ms"][q] for q in quantiles]
        ax.bar(
            [i + n * width for i in range(len(quantiles))],
            values,
            width,
            label=f"{phase['rate_per_second']:.0f} msg/s",
        )
    ax.set_xticks([i + width * (len(phases) - 1) / 2 for i in range(len(quantiles))], quantiles)
    ax.axhline(ADDED_P99_AT_FIXED_RATE_MS, color="black", linestyle=":", label="target p99")
    ax.set_yscale("log")
    ax.set_ylabel("ms, reply latency less its model call")
    ax.set_title("Added latency, lognormal model")
    ax.legend()


def _head_of_line(ax: Any, results: dict[str, Any], added: Sequence[float]) -> None:
    hol = results.get("model_latency", {}).get("head_of_line")
    if not hol or not added:
        _skipped(ax, "Head-of-line")
        return
    ax.hist(added, bins=30, color=BLUE)
    ax.axvline(HEAD_OF_LINE_MAX_MS, color="black", linestyle="-", label="target max")
    ax.axvline(HEAD_OF_LINE_P99_MS, color="black", linestyle=":", label="target p99")
    ax.set_xlabel("ms, ordinary reply's latency less its model call")
    ax.set_ylabel("replies")
    ax.set_title(
        f"Head-of-line: {hol['slow_calls']} calls of {hol['slow_call_ms'] / 1000:g} s "
        f"({hol['slow_replied']} replied), ordinary at {hol['ordinary_rate']:g} msg/s"
    )
    ax.legend()


def _targets(ax: Any, results: dict[str, Any]) -> None:
    ax.set_axis_off()
    ax.set_title("Targets")
    rows = evaluate(results)
    for n, row in enumerate(rows):
        y = 0.9 - n * 0.22
        color = {True: "#2f855a", False: "#c53030", None: GREY}[row["met"]]
        ax.text(0.0, y, row["target"], fontsize=9, va="top", wrap=True)
        figure = row["figure"] or "-"
        ax.text(0.0, y - 0.08, f"{figure}: {verdict(row['met'])}", color=color, va="top")
