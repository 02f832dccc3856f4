"""The drawn model latency: its quantiles, its seed, and how rules and settings combine with it.

The sampler is tested, not the sleeping: the delay a call got is read from the call log.
"""

from __future__ import annotations

import statistics

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from baton_scripted_model import LognormalLatency, ScriptedModelSettings, create_app

from .conftest import request, user


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def test_the_samples_have_the_median_and_p99_asked_for() -> None:
    latency = LognormalLatency(800, 6000, seed=42)

    samples = [latency.sample_ms() for _ in range(50_000)]

    assert quantile(samples, 0.5) == pytest.approx(800, rel=0.03)
    assert quantile(samples, 0.99) == pytest.approx(6000, rel=0.08)
    assert latency.quantile_ms(0.5) == pytest.approx(800)
    assert latency.quantile_ms(0.99) == pytest.approx(6000)
    # A heavy tail: the mean is well above the median, a few calls take many seconds.
    assert statistics.fmean(samples) > 1.3 * 800
    assert max(samples) > 10_000


def test_a_seed_gives_the_same_sequence_every_time() -> None:
    first = LognormalLatency(800, 6000, seed=7)
    again = LognormalLatency(800, 6000, seed=7)
    other = LognormalLatency(800, 6000, seed=8)

    drawn = [first.sample_ms() for _ in range(20)]

    assert drawn == [again.sample_ms() for _ in range(20)]
    assert drawn != [other.sample_ms() for _ in range(20)]


@pytest.mark.parametrize(("median", "p99"), [(0, 10), (-1, 10), (100, 50)])
def test_a_distribution_that_cannot_be_is_refused(median: float, p99: float) -> None:
    with pytest.raises(ValueError, match="median"):
        LognormalLatency(median, p99)


def test_settings_take_the_distribution_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCRIPTED_MODEL_LATENCY_MEDIAN_MS", "800")
    monkeypatch.setenv("SCRIPTED_MODEL_LATENCY_P99_MS", "6000")
    monkeypatch.setenv("SCRIPTED_MODEL_LATENCY_SEED", "3")

    settings = ScriptedModelSettings()

    assert (settings.latency_median_ms, settings.latency_p99_ms, settings.latency_seed) == (
        800,
        6000,
        3,
    )


@pytest.mark.parametrize(
    "fields",
    [
        {"latency_median_ms": 800},
        {"latency_p99_ms": 6000},
        {"latency_median_ms": 900, "latency_p99_ms": 800},
    ],
)
def test_settings_refuse_half_a_distribution(fields: dict[str, float]) -> None:
    with pytest.raises(ValidationError, match="latency"):
        ScriptedModelSettings.model_validate(fields)


def delays(client: TestClient) -> list[int]:
    return [call["delay_ms"] for call in client.get("/_calls").json()["calls"]]


def test_every_answer_waits_the_fixed_latency_plus_a_drawn_one() -> None:
    settings = ScriptedModelSettings(
        latency_ms=2, latency_median_ms=1, latency_p99_ms=4, latency_seed=11
    )
    client = TestClient(create_app(settings))
    expected = LognormalLatency(1, 4, seed=11)

    for _ in range(5):
        assert client.post("/v1/chat/completions", json=request(user("Hi"))).status_code == 200

    assert delays(client) == [round(2 + expected.sample_ms()) for _ in range(5)]


def test_a_rule_fixes_its_calls_latency_in_place_of_the_servers() -> None:
    settings = ScriptedModelSettings(
        latency_ms=50, latency_median_ms=100, latency_p99_ms=400, latency_seed=1
    )
    slow = {
        "match": {"last_user": "slow"},
        "latency_ms": 5,
        "delay_ms": 3,
        "respond": {"content": "late"},
    }
    client = TestClient(create_app(settings, script=[slow]))

    response = client.post("/v1/chat/completions", json=request(user("slow please")))

    assert response.status_code == 200
    assert delays(client) == [8]
