from __future__ import annotations

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

# Present from the start at zero, so increase() also sees a label value's first change.
for _outcome in ("approved", "edited", "rejected"):
    APPROVALS.labels(_outcome)
for _reason in ("topic", "complexity", "taken_over"):
    APPROVALS_REQUESTED.labels(_reason)
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
    ),
    limited=("question", "escalate_tool", "low_confidence", "requires_human"),
)
