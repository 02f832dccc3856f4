"""Metrics every service exports, beside FastStream's own ``faststream_*`` publish metrics.

Label values come from small fixed sets (topics, error codes, outcomes), never from ids or
free text, so the number of series stays bounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram
from pydantic_settings import BaseSettings, SettingsConfigDict

from baton_contracts import utc_now

DEAD_LETTERS = Counter(
    "baton_dead_letters_total",
    "Records sent to a dead-letter topic, by original topic and reason code.",
    ["service", "topic", "reason"],
)
EVENTS_HANDLED = Counter(
    "baton_events_handled_total",
    "Consumed records by outcome: handled, replayed (redelivery), dead_lettered, skipped "
    "(not for this service).",
    ["service", "topic", "outcome"],
)
EVENT_OUTCOMES = ("handled", "replayed", "dead_lettered", "skipped")
HANDLER_RETRIES = Counter(
    "baton_handler_retries_total",
    "Handler attempts that failed and were retried, by kind (transient, error).",
    ["service", "topic", "kind"],
)
RETRY_KINDS = ("transient", "error")
HANDLER_SECONDS = Histogram(
    "baton_handler_seconds",
    "Time from a record's start (after any earlier record of its thread) until it was "
    "finished: handled and its output published, replayed, skipped or dead-lettered.",
    ["service", "topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
CONSUMER_LAG = Gauge(
    "baton_consumer_lag",
    "Records not yet taken by the consumer (high watermark minus position), per consumer "
    "group and topic.",
    ["group", "topic"],
)
CONSUMER_PARTITIONS = Gauge(
    "baton_consumer_partitions",
    "Partitions assigned to this instance's consumer, per consumer group and topic (0 on an "
    "instance beyond the topic's partition count: it takes no records).",
    ["group", "topic"],
)
CONSUMER_RECORDS = Gauge(
    "baton_consumer_records",
    "Records taken from Kafka and not finished, by state: running (being worked on) or "
    "queued (waiting for an earlier record of the same thread).",
    ["service", "topic", "state"],
)
END_TO_END_SECONDS = Histogram(
    "baton_end_to_end_seconds",
    "Time from a user message being received to the reply being sent, by who answered "
    "(ai, ai_approved, human).",
    ["answered_by"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400),
)


# Shared by several services (in tests they share one process, so each is defined once).
ESCALATIONS = Counter(
    "baton_escalations_total",
    "Conversations or questions handed to people, by reason "
    "(rule, classifier, question, low_confidence, requires_human, escalate_tool, "
    "llm_unavailable, max_steps, draft_rejected).",
    ["reason"],
)
ESCALATIONS_REFUSED = Counter(
    "baton_escalations_refused_total",
    "Escalations refused because the conversation passed its escalation limit, by the path "
    "that asked (rule, classifier, question, escalate_tool, low_confidence, requires_human).",
    ["reason"],
)
MESSAGES_SENT = Counter(
    "baton_messages_sent_total",
    "Messages made visible to users (message.sent), by provider (openai, human).",
    ["provider"],
)
LLM_CALLS = Counter(
    "baton_llm_calls_total",
    "Model calls by caller (responder, classifier) and outcome "
    "(ok, timeout, rate_limited, server_error, connection_error, invalid_output, client_error).",
    ["caller", "outcome"],
)
LLM_WAITING = Gauge(
    "baton_llm_waiting",
    "Model calls waiting for a slot (at most LLM_MAX_CONCURRENT are in flight), by caller.",
    ["caller"],
)
LLM_IN_FLIGHT = Gauge("baton_llm_in_flight", "Model calls in flight, by caller.", ["caller"])
LLM_LATENCY_SECONDS = Histogram(
    "baton_llm_latency_seconds",
    "Duration of one model call, by caller.",
    ["caller"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60),
)
LLM_TOKENS = Counter(
    "baton_llm_tokens_total",
    "Tokens used, by caller and kind (prompt, completion).",
    ["caller", "kind"],
)
LLM_COST_USD = Counter(
    "baton_llm_cost_usd_total",
    "Estimated model cost in US dollars, from LLM_PRICE_*_PER_MTOK, by caller.",
    ["caller"],
)


class LlmPricing(BaseSettings):
    """Prices for the cost estimate (``LLM_PRICE_PROMPT_PER_MTOK`` etc., dollars per 1M)."""

    model_config = SettingsConfigDict(env_prefix="LLM_PRICE_", extra="ignore")

    prompt_per_mtok: float = 0.15
    completion_per_mtok: float = 0.60


_OUTCOME_OF_ERROR = {
    "APITimeoutError": "timeout",
    "RateLimitError": "rate_limited",
    "InternalServerError": "server_error",
    "StreamFailedError": "server_error",  # an error event in the middle of a streamed answer
    "APIConnectionError": "connection_error",
    "InvalidOutputError": "invalid_output",
}
"""The outcome of a model call that raised one of these (by class name); any other error is
``client_error``."""

LLM_OUTCOMES = ("ok", *_OUTCOME_OF_ERROR.values(), "client_error")
"""Every value of ``baton_llm_calls_total``'s ``outcome`` (:func:`llm_outcome`)."""


def start_llm_metrics(caller: str) -> None:
    """Create ``caller``'s model-call series at zero, so that increase() and the alerts on
    failing calls also see a series' first change, and the panels show 0, not no data."""
    for outcome in LLM_OUTCOMES:
        LLM_CALLS.labels(caller, outcome)
    LLM_LATENCY_SECONDS.labels(caller)
    LLM_WAITING.labels(caller)
    LLM_IN_FLIGHT.labels(caller)
    for kind in ("prompt", "completion"):
        LLM_TOKENS.labels(caller, kind)
    LLM_COST_USD.labels(caller)


def start_reply_metrics(provider: str, answered_by: Iterable[str]) -> None:
    """Create the series of the replies a service sends at zero (see
    :func:`start_llm_metrics`)."""
    MESSAGES_SENT.labels(provider)
    for who in answered_by:
        END_TO_END_SECONDS.labels(who)


def start_escalation_metrics(reasons: Iterable[str], *, limited: Iterable[str] = ()) -> None:
    """Create the series of the escalations a service counts, and of those its limits
    refuse, at zero."""
    for reason in reasons:
        ESCALATIONS.labels(reason)
    for reason in limited:
        ESCALATIONS_REFUSED.labels(reason)


def record_message_sent(
    *, provider: str, answered_by: str, user_message_at: datetime | None
) -> None:
    """A reply became visible: count it and observe its end-to-end latency, measured from
    the user message it answers."""
    MESSAGES_SENT.labels(provider).inc()
    if user_message_at is not None:
        END_TO_END_SECONDS.labels(answered_by).observe(
            max(0.0, (utc_now() - user_message_at).total_seconds())
        )


def record_llm_usage(
    caller: str, *, prompt_tokens: int, completion_tokens: int, pricing: LlmPricing
) -> None:
    LLM_TOKENS.labels(caller, "prompt").inc(prompt_tokens)
    LLM_TOKENS.labels(caller, "completion").inc(completion_tokens)
    cost = (
        prompt_tokens * pricing.prompt_per_mtok + completion_tokens * pricing.completion_per_mtok
    ) / 1_000_000
    LLM_COST_USD.labels(caller).inc(cost)


def llm_outcome(exc: BaseException | None) -> str:
    """A bounded outcome label for a model call that raised ``exc`` (None: success)."""
    if exc is None:
        return "ok"
    return _OUTCOME_OF_ERROR.get(type(exc).__name__, "client_error")
