from __future__ import annotations

from prometheus_client import Counter

APPROVALS_REQUESTED = Counter(
    "baton_approvals_requested_total",
    "AI replies held for a person's approval, by reason (topic, complexity).",
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
