"""The bench's latency-by-rate figures and its ``--curve`` option (nothing is started)."""

from __future__ import annotations

import argparse
from types import ModuleType
from typing import Any

import pytest

from tests.support.infra import ROOT
from tests.support.scripts import load_script


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script(ROOT / "bench" / "run.py", "baton_bench_run")


def point(rate: float, p99: float, *, cpu: float = 1.0) -> dict[str, Any]:
    """A latency phase's entries in bench.json, as far as the figures read them."""
    return {
        "rate_per_second": rate,
        "latency_without_model_ms": {"p50": p99 / 3, "p95": p99 / 2, "p99": p99, "replies": 9},
        "cpu_share_of_one_core": {"ingest": cpu / 2, "bench": cpu / 2},
        "mongo_commands_per_message": {"ingest": {"find": 2.0}, "total": 2.0},
        "lost": 0,
        "duplicated": 0,
    }


def test_the_target_holds_up_to_the_highest_rate_below_the_first_miss(bench: ModuleType) -> None:
    # Measured highest first, as the bench does; a lucky higher rate does not count once a
    # lower one missed.
    points = [point(100, 300), point(80, 40), point(60, 70), point(40, 30), point(20, 20)]

    figures = bench.latency_by_rate(points, sustained=200)

    assert [row["rate_per_second"] for row in figures["rates"]] == [20, 40, 60, 80, 100]
    assert figures["holds_up_to_per_second"] == 40
    assert figures["holds_up_to_fraction_of_sustained"] == pytest.approx(0.2)
    assert figures["rates"][0]["fraction_of_sustained"] == pytest.approx(0.1)
    assert figures["rates"][0]["cpu_cores"] == pytest.approx(1.0)
    assert figures["rates"][0]["mongo_commands_per_message"] == 2.0


def test_a_target_missed_at_every_rate_holds_nowhere(bench: ModuleType) -> None:
    figures = bench.latency_by_rate([point(100, 300), point(20, 51)], sustained=200)

    assert figures["holds_up_to_per_second"] is None
    assert figures["holds_up_to_fraction_of_sustained"] is None


def test_a_phase_without_replies_is_no_pass(bench: ModuleType) -> None:
    figures = bench.latency_by_rate([point(20, float("nan")), point(40, 10)], sustained=200)

    assert figures["holds_up_to_per_second"] is None


def test_curve_fractions_are_measured_highest_first(bench: ModuleType) -> None:
    assert bench.fractions("0.2,0.4, 0.3") == (0.4, 0.3, 0.2)
    assert bench.fractions("") == ()


@pytest.mark.parametrize("text", ["0.2,x", "0", "1.5", "-0.1"])
def test_curve_fractions_outside_the_sustained_rate_are_refused(
    bench: ModuleType, text: str
) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        bench.fractions(text)
