"""Series with fixed label values exist from start-up, at zero, so increase() and the alerts
also see their first change and panels show 0 rather than no data."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

import baton_ai_responder.llm
import baton_ai_responder.metrics
import baton_ai_responder.summary
import baton_human_queue.metrics
import baton_router.classifier
import baton_router.metrics
from baton_runtime import LLM_OUTCOMES, llm_outcome

# Imported for the series they create at import; nothing here calls them.
SERVICES = (
    baton_ai_responder.llm,
    baton_ai_responder.metrics,
    baton_ai_responder.summary,
    baton_human_queue.metrics,
    baton_router.classifier,
    baton_router.metrics,
)

EXPECTED = [
    *(
        ("baton_llm_calls_total", {"caller": caller, "outcome": outcome})
        for caller in ("responder", "classifier", "summary")
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
            "question_expired",
        )
    ),
    *(("baton_ai_summaries_total", {"outcome": outcome}) for outcome in ("written", "failed")),
    *(
        ("baton_queue_tickets_expired_total", {"kind": "question", "fallback": fallback})
        for fallback in ("ai", "human")
    ),
    *(
        ("baton_csat_ratings_total", {"resolved_by": by, "score": str(score)})
        for by in ("ai", "human")
        for score in range(1, 6)
    ),
    ("baton_approvals_requested_total", {"reason": "complexity"}),
    *(
        ("baton_ai_replies_streamed_total", {"outcome": outcome})
        for outcome in ("streamed", "held", "taken_over")
    ),
    ("baton_message_deltas_total", {}),
    ("baton_routing_decisions_total", {"handler": "human", "strategy": "rate_limited"}),
    ("baton_routing_decisions_total", {"handler": "ai", "strategy": "out_of_hours"}),
    *(
        ("baton_queue_sla_breaches_total", {"kind": "conversation", "sla": sla})
        for sla in ("first_response", "next_response", "resolution")
    ),
    *(
        ("baton_queue_notices_total", {"notice": notice})
        for notice in ("handoff", "checking", "agent_joined", "handback", "resolved", "rating")
    ),
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
        "StreamFailedError",
        "BadRequestError",
    ],
)
def test_every_outcome_of_a_model_call_is_one_that_starts_at_zero(error: str | None) -> None:
    exc = None if error is None else type(error, (Exception,), {})()
    assert llm_outcome(exc) in LLM_OUTCOMES
