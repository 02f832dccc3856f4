"""The selector reader the Prometheus test relies on to name every metric a query needs."""

from __future__ import annotations

import pytest

from .promql import Selector, grafana_expr, metric_names, selectors


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up == 0", [Selector("up")]),
        (
            "sum by (le, kind) (rate(baton_queue_time_to_claim_seconds_bucket[10m]))",
            [Selector("baton_queue_time_to_claim_seconds_bucket")],
        ),
        (
            'sum by (department) (max by (kind, department) (baton_queue_open_tickets{status="pending"}))'
            " - sum by (department) (max by (kind, department) "
            '(baton_queue_open_tickets{status="pending"} offset 30m)) >= 10',
            [Selector("baton_queue_open_tickets", 'status="pending"')],
        ),
        (
            '(sum by (caller) (rate(baton_llm_calls_total{outcome!="ok"}[5m]))'
            " / sum by (caller) (rate(baton_llm_calls_total[5m]))) > 0.1"
            ' and sum by (caller) (increase(baton_llm_calls_total{outcome!="ok"}[5m])) >= 3',
            [
                Selector("baton_llm_calls_total", 'outcome!="ok"'),
                Selector("baton_llm_calls_total"),
            ],
        ),
        (
            "histogram_quantile(0.95, sum(rate(a_bucket[5m])) by (le)) * on (job) group_left (x) b",
            [Selector("a_bucket"), Selector("b")],
        ),
        (
            'sum(x{reason=~"a|b", t="{curly}"}) unless y',
            [Selector("x", 'reason=~"a|b", t="{curly}"'), Selector("y")],
        ),
        ("sort_desc(max by (agent_id, agent) (g)) + 1e3 * 0.5", [Selector("g")]),
        ("avg_over_time(m[1h:1m]) > bool 2", [Selector("m")]),
    ],
)
def test_selectors(expr: str, expected: list[Selector]) -> None:
    assert selectors(expr) == expected


def test_a_misspelt_metric_is_named() -> None:
    assert metric_names("sum(rate(baton_messages_recieved_total[5m]))") == {
        "baton_messages_recieved_total"
    }


def test_grafana_variables_become_durations() -> None:
    assert grafana_expr("rate(x[$__rate_interval]) + increase(x[$__range])") == (
        "rate(x[10m]) + increase(x[1h])"
    )
