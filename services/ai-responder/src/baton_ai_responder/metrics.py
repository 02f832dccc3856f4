from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter

from baton_runtime import start_escalation_metrics, start_reply_metrics

APPROVALS_REQUESTED = Counter(
    "baton_approvals_requested_total",
    "AI replies held for a person's approval, by reason (topic, complexity, taken_over: "
    "people took the conversation over while the AI was writing).",
    ["reason"],
)
APPROVALS = Counter(
    "baton_approvals_total",
    "Reviewed AI drafts, by outcome (approved, edited, rejected).",
    ["outcome"],
)

STREAMED_REPLIES = Counter(
    "baton_ai_replies_streamed_total",
    "AI replies written while streaming was possible, by outcome (streamed: its text reached "
    "the user as it was written; held: it went whole, its decision fields did not allow "
    "streaming or came after its text; taken_over: people owned the thread when it began).",
    ["outcome"],
)
DELTAS = Counter(
    "baton_message_deltas_total",
    "Pieces of AI replies published as message.delta while they were written.",
)
for _streamed in ("streamed", "held", "taken_over"):
    STREAMED_REPLIES.labels(_streamed)

SUMMARIES = Counter(
    "baton_ai_summaries_total",
    "Summaries of new tickets for the agent, by outcome (written; failed: the model failed "
    "every attempt, and the ticket goes without one).",
    ["outcome"],
)

TOOL_CALLS = Counter(
    "baton_ai_tool_calls_total",
    "The model's calls of tools other than ask_human and escalate, by tool and outcome "
    "(succeeded, failed: the tool failed or timed out; invalid: arguments outside the "
    "schema, never sent; approval_requested; denied; expired: nobody decided in time; "
    "unknown: no such tool for the thread).",
    ["tool", "outcome"],
)

# Present from the start at zero, so increase() also sees a label value's first change.
for _outcome in ("approved", "edited", "rejected"):
    APPROVALS.labels(_outcome)
for _reason in ("topic", "complexity", "taken_over"):
    APPROVALS_REQUESTED.labels(_reason)
for _outcome in ("written", "failed"):
    SUMMARIES.labels(_outcome)
start_reply_metrics("openai", answered_by=("ai", "ai_approved"))
start_escalation_metrics(
    (
        "question",
        "low_confidence",
        "requires_human",
        "escalate_tool",
        "llm_unavailable",
        "max_steps",
        "draft_rejected",
        "question_expired",
        "tool_failed",
    ),
    limited=("question", "escalate_tool", "low_confidence", "requires_human"),
)


def start_tool_metrics(tools: Iterable[str]) -> None:
    """The outcomes of running each tool, at zero from the start: a tool's first failure
    is then an increase, which its alert sees."""
    for tool in tools:
        for outcome in ("succeeded", "failed"):
            TOOL_CALLS.labels(tool=tool, outcome=outcome)
