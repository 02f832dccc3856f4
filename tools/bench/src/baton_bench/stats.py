"""Percentiles, as every figure of the bench reports them."""

from __future__ import annotations

from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; NaN when there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def percentiles_ms(values: Sequence[float]) -> dict[str, float]:
    """p50, p95 and p99 of ``values`` (seconds), in milliseconds."""
    return {f"p{q}": percentile(values, q) * 1000 for q in (50, 95, 99)}
