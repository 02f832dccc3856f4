"""The targets the pipeline is measured against, and whether a run met them."""

from __future__ import annotations

import math
from typing import Any

HEAD_OF_LINE_MAX_MS = 250.0
"""No ordinary reply may be held up longer than this by other conversations' slow calls."""
HEAD_OF_LINE_P99_MS = 100.0
ADDED_P99_AT_FIXED_RATE_MS = 50.0
"""The p99 the pipeline may add to a reply's model call at the fixed rate."""
MODEL_THROUGHPUT_RATIO = 0.8
"""The share of the zero-latency rate the pipeline sustains with a one-second model."""
KAFKA_RATIO = 0.4
"""The zero-latency rate's share of a raw Kafka relay's."""
LONE_MESSAGE_CPU_MS = 24.0
"""CPU a message may cost all processes together when it comes alone (25 msg/s)."""


def _within(value: float | None, limit: float) -> bool | None:
    """``value <= limit``; None when not measured, False when measured but NaN."""
    if value is None:
        return None
    return not math.isnan(value) and value <= limit


def _at_least(value: float | None, limit: float) -> bool | None:
    if value is None:
        return None
    return not math.isnan(value) and value >= limit


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the figure it is judged on and ``met``: True, False, or None when
    the run did not measure it."""
    model = results.get("model_latency", {})
    hol = model.get("head_of_line")
    at_fixed = model.get("added_latency_at_fixed_rate")
    throughput = model.get("throughput_with_fixed_model")
    pipeline = results.get("pipeline", {})

    hol_max = hol["ordinary_added_latency_ms"]["max"] if hol else None
    hol_p99 = hol["ordinary_added_latency_ms"]["p99"] if hol else None
    hol_met = _within(hol_max, HEAD_OF_LINE_MAX_MS)
    if hol_met:
        hol_met = _within(hol_p99, HEAD_OF_LINE_P99_MS)
    fixed_p99 = at_fixed["latency_without_model_ms"]["p99"] if at_fixed else None
    fixed_rate = at_fixed["rate_per_second"] if at_fixed else None
    ratio = throughput.get("ratio_to_zero_latency") if throughput else None
    fixed_s = throughput["model"]["fixed_ms"] / 1000 if throughput else 1.0
    kafka = pipeline.get("ratio_to_baseline")
    lone = results.get("lone_message")
    lone_ms = lone["cpu_ms_per_message"]["total"] if lone else None
    lone_figure = f"{lone_ms:.1f} ms at {lone['rate_per_second']:.0f} msg/s" if lone else None
    return [
        {
            "target": f"head-of-line: no ordinary reply's added latency above "
            f"{HEAD_OF_LINE_MAX_MS:.0f} ms, p99 within {HEAD_OF_LINE_P99_MS:.0f} ms",
            "figure": None if hol is None else f"max {hol_max:.0f} ms, p99 {hol_p99:.0f} ms",
            "met": hol_met,
        },
        {
            "target": f"added latency p99 at {fixed_rate or 50:.0f} msg/s within "
            f"{ADDED_P99_AT_FIXED_RATE_MS:.0f} ms",
            "figure": None if fixed_p99 is None else f"p99 {fixed_p99:.0f} ms",
            "met": _within(fixed_p99, ADDED_P99_AT_FIXED_RATE_MS),
        },
        {
            "target": f"throughput with a {fixed_s:g} s model at least "
            f"{MODEL_THROUGHPUT_RATIO} of the zero-latency rate",
            "figure": None if ratio is None else f"{ratio:.2f} x",
            "met": _at_least(ratio, MODEL_THROUGHPUT_RATIO),
        },
        {
            "target": f"zero-latency rate at least {KAFKA_RATIO} of a raw Kafka relay's",
            "figure": None if kafka is None else f"{kafka:.2f} x",
            "met": _at_least(kafka, KAFKA_RATIO),
        },
        {
            "target": f"a lone message at most {LONE_MESSAGE_CPU_MS:.0f} ms of CPU in all",
            "figure": lone_figure,
            "met": _within(lone_ms, LONE_MESSAGE_CPU_MS),
        },
    ]


def verdict(met: bool | None) -> str:
    return {True: "met", False: "not met", None: "not measured"}[met]
