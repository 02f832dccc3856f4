"""The bench's figures, targets and options (nothing is started)."""

from __future__ import annotations

import argparse
import math
import uuid
from typing import Any

import pytest

from baton_bench import fractions, phases
from baton_bench.latency import added_seconds, latency_by_rate, without_model
from baton_bench.model import ModelLatency, head_of_line_figures
from baton_bench.report import lost_and_duplicated
from baton_bench.scaling import scaling_lines, under_load
from baton_bench.targets import evaluate
from baton_testkit import Observed


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


def test_the_target_holds_up_to_the_highest_rate_below_the_first_miss() -> None:
    # Measured highest first, as the bench does; a lucky higher rate does not count once a
    # lower one missed.
    points = [point(100, 300), point(80, 40), point(60, 70), point(40, 30), point(20, 20)]

    figures = latency_by_rate(points, sustained=200)

    assert [row["rate_per_second"] for row in figures["rates"]] == [20, 40, 60, 80, 100]
    assert figures["holds_up_to_per_second"] == 40
    assert figures["holds_up_to_fraction_of_sustained"] == pytest.approx(0.2)
    assert figures["rates"][0]["fraction_of_sustained"] == pytest.approx(0.1)
    assert figures["rates"][0]["cpu_cores"] == pytest.approx(1.0)
    assert figures["rates"][0]["mongo_commands_per_message"] == 2.0


def test_a_target_missed_at_every_rate_holds_nowhere() -> None:
    figures = latency_by_rate([point(100, 300), point(20, 51)], sustained=200)

    assert figures["holds_up_to_per_second"] is None
    assert figures["holds_up_to_fraction_of_sustained"] is None


def test_a_phase_without_replies_is_no_pass() -> None:
    figures = latency_by_rate([point(20, float("nan")), point(40, 10)], sustained=200)

    assert figures["holds_up_to_per_second"] is None


def test_curve_fractions_are_measured_highest_first() -> None:
    assert fractions("0.2,0.4, 0.3") == (0.4, 0.3, 0.2)
    assert fractions("") == ()


@pytest.mark.parametrize("text", ["0.2,x", "0", "1.5", "-0.1"])
def test_curve_fractions_outside_the_sustained_rate_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        fractions(text)


def test_phases_are_chosen_by_name() -> None:
    assert phases("head-of-line, added-latency") == {"head-of-line", "added-latency"}
    with pytest.raises(argparse.ArgumentTypeError, match="unknown"):
        phases("head-of-line,everything")


def observed(*replies: float | None) -> tuple[Observed, list[uuid.UUID]]:
    """Messages accepted at once, each replied to after the given seconds (None: never)."""
    seen = Observed()
    ids = []
    for after in replies:
        message = uuid.uuid4()
        ids.append(message)
        seen.accepted_at[message] = 100.0
        if after is not None:
            seen.sent_at[message] = 100.0 + after
    return seen, ids


def test_the_added_latency_is_the_reply_latency_less_its_model_call() -> None:
    seen, (fast, slow, unreplied, unknown) = observed(1.0, 9.0, None, 2.0)
    model = {fast: 0.95, slow: 8.7, unreplied: 1.0}

    added = added_seconds(seen, model)

    # A reply whose model time is unknown is left out rather than counted whole.
    assert added == {fast: pytest.approx(0.05), slow: pytest.approx(0.3)}
    assert added_seconds(seen, model, among=[slow]) == {slow: pytest.approx(0.3)}
    figures = without_model(seen, model)
    assert figures["max"] == pytest.approx(300)
    assert figures["replies"] == 2
    assert unknown not in added


def test_head_of_line_reports_the_ordinary_replies_and_counts_the_slow_ones() -> None:
    seen, (slow_a, slow_b, *ordinary) = observed(8.1, None, 0.9, 8.2)

    figures = head_of_line_figures(
        seen.sent_at,
        seen.accepted_at,
        {ordinary[0]: 0.02, ordinary[1]: 7.4},
        slow={slow_a, slow_b},
        ordinary=set(ordinary),
        slow_in_flight=2,
        settings={"slow_calls": 2, "slow_call_ms": 8000, "ordinary_rate": 10},
        figures={"duplicated": 0, "repeated_events": 0},
    )

    assert figures["slow_replied"] == 1
    assert figures["slow_latency_ms"]["max"] == pytest.approx(8100)
    assert figures["ordinary_replied"] == 2
    assert figures["ordinary_added_latency_ms"]["max"] == pytest.approx(7400)
    assert figures["ordinary_added_latency_ms"]["p50"] == pytest.approx(20)
    assert sorted(figures["ordinary_added_ms"]) == pytest.approx([20, 7400])


def test_conversations_wait_past_nearly_every_model_call() -> None:
    lognormal = ModelLatency(median_ms=800, p99_ms=6000, seed=3)

    assert 10 < lognormal.gap_s() < 13  # the lognormal's p99.9
    assert ModelLatency(fixed_ms=1000).gap_s() == pytest.approx(3)
    assert lognormal.env() == {
        "SCRIPTED_MODEL_LATENCY_MS": "0",
        "SCRIPTED_MODEL_LATENCY_MEDIAN_MS": "800",
        "SCRIPTED_MODEL_LATENCY_P99_MS": "6000",
        "SCRIPTED_MODEL_LATENCY_SEED": "3",
    }


def model_results(*, hol_max: float, hol_p99: float, fixed_p99: float, ratio: float) -> Any:
    return {
        "pipeline": {"ratio_to_baseline": 0.45},
        "lone_message": {"rate_per_second": 25, "cpu_ms_per_message": {"total": 21.5}},
        "model_latency": {
            "head_of_line": {"ordinary_added_latency_ms": {"max": hol_max, "p99": hol_p99}},
            "added_latency_at_fixed_rate": {
                "rate_per_second": 50,
                "latency_without_model_ms": {"p99": fixed_p99},
            },
            "throughput_with_fixed_model": {
                "model": {"fixed_ms": 1000},
                "ratio_to_zero_latency": ratio,
            },
        },
    }


def test_targets_are_met_within_their_limits() -> None:
    results = model_results(hol_max=240, hol_p99=90, fixed_p99=45, ratio=0.85)

    assert [target["met"] for target in evaluate(results)] == [True, True, True, True, True]


def test_head_of_line_needs_both_its_max_and_its_p99() -> None:
    over_max = model_results(hol_max=7900, hol_p99=90, fixed_p99=45, ratio=0.85)
    over_p99 = model_results(hol_max=240, hol_p99=120, fixed_p99=45, ratio=0.85)

    assert evaluate(over_max)[0]["met"] is False
    assert evaluate(over_p99)[0]["met"] is False


def test_targets_not_measured_or_without_replies_are_not_met() -> None:
    results = model_results(hol_max=math.nan, hol_p99=math.nan, fixed_p99=45, ratio=0.5)
    del results["pipeline"]
    results["lone_message"]["cpu_ms_per_message"]["total"] = 30.0

    met = [target["met"] for target in evaluate(results)]

    assert met == [False, True, False, None, False]


def scaling_run(instances: int, per_second: float, *, lost: int = 0) -> dict[str, Any]:
    """One run of the scaling phase in bench.json, as far as the summary reads it."""
    return {
        "instances": instances,
        "per_second": per_second * 0.8,
        "replies_per_second_under_load": per_second,
        "lost": lost,
        "duplicated": 0,
        "latency_ms": {"p50": 900.0, "p95": 3000.0, "p99": 6000.0},
        "cpu_ms_per_message": {"ingest": 4.0, "ai-responder": 7.5, "kafka": 3.0, "total": 14.5},
        "cpu_cores": {"total": 0.58},
    }


def test_the_scaling_summary_shows_each_run_against_one_instance() -> None:
    results = {
        "scaling": {
            "rate_per_second": 40.0,
            "partitions": 6,
            "llm_max_concurrent_per_instance": 32,
            "model": {"lognormal_median_ms": 800.0},
            "runs": {"1": scaling_run(1, 27.0, lost=1), "2": scaling_run(2, 40.0)},
            "throughput_ratio": 40.0 / 27.0,
        }
    }

    first, one, two = scaling_lines(results)

    assert "2 instances keep up 1.48 x 1 instance's reply rate" in first
    assert one.startswith(
        "  1 instance(s): 27.0 replies/s under load (21.6/s sustained), p50/p95/p99 "
        "900/3000/6000 ms"
    )
    assert "CPU ms per message 14.5 (ingest 4.0, ai-responder 7.5)" in two
    assert lost_and_duplicated(results) == "lost 1, duplicated 0 in all phases"
    assert scaling_lines({}) == []


def test_the_reply_rate_under_load_leaves_out_the_tail_after_it() -> None:
    # Accepted at once; replies at 101, 102, 103 s while the load ran until 103 s, and one
    # more long after (a slow model call's tail).
    seen, _ = observed(1.0, 2.0, 3.0, 30.0)

    assert under_load(seen, until=103.0) == pytest.approx(3 / 2)
    assert math.isnan(under_load(Observed(), until=103.0))
