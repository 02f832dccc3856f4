"""Series with fixed label values exist from start-up, at zero, so increase() and the alerts
also see their first change and panels show 0 rather than no data."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

import baton_ai_responder.llm
import baton_ai_responder.metrics
import baton_human_queue.metrics
import baton_router.classifier
import baton_router.metrics
from baton_runtime import LLM_OUTCOMES, llm_outcome

# Imported for the series they create at import; nothing here calls them.
SERVICES = (
    baton_ai_responder.llm,
    baton_ai_responder.metrics,
    baton_human_queue.metrics,
    baton_router.classifier,
    baton_router.metrics,
)

EXPECTED = [
    *(
        ("baton_llm_calls_total", {"caller": caller, "outcome": outcome})
        for caller in ("responder", "classifier")
        for outcome in LLM_OUTCOMES
    ),
    *(
        ("baton_llm_tokens_total", {"caller": caller, "kind": kind})
        for caller in ("responder", "classifier")
        for kind in ("prompt", "completion")
    ),
    ("baton_llm_latency_seconds_count", {"caller": "responder"}),
    ("baton_llm_cost_usd_total", {"caller": "classifier"}),
    ("baton_messages_sent_total", {"provider": "openai"}),
    ("baton_messages_sent_total", {"provider": "human"}),
    *(
        ("baton_end_to_end_seconds_count", {"answered_by": who})
        for who in ("ai", "ai_approved", "human")
    ),
    *(
        ("baton_escalations_total", {"reason": reason})
        for reason in (
            "rule",
            "classifier",
            "question",
            "low_confidence",
            "requires_human",
            "escalate_tool",
            "llm_unavailable",
            "max_steps",
            "draft_rejected",
        )
    ),
    ("baton_approvals_requested_total", {"reason": "complexity"}),
    ("baton_routing_decisions_total", {"handler": "human", "strategy": "rate_limited"}),
]


@pytest.mark.parametrize(("name", "labels"), EXPECTED, ids=lambda v: str(v))
def test_the_series_exists_from_the_start(name: str, labels: dict[str, str]) -> None:
    assert REGISTRY.get_sample_value(name, labels) is not None


@pytest.mark.parametrize(
    "error",
    [
        None,
        "APITimeoutError",
        "RateLimitError",
        "InternalServerError",
        "APIConnectionError",
        "InvalidOutputError",
        "BadRequestError",
    ],
)
def test_every_outcome_of_a_model_call_is_one_that_starts_at_zero(error: str | None) -> None:
    exc = None if error is None else type(error, (Exception,), {})()
    assert llm_outcome(exc) in LLM_OUTCOMES
