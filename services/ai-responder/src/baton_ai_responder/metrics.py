from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter

from baton_runtime.metrics import record_message_sent

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


def reply_sent(*, answered_by: str, provider: str, user_message_at: datetime | None) -> None:
    record_message_sent(provider=provider, answered_by=answered_by, user_message_at=user_message_at)
