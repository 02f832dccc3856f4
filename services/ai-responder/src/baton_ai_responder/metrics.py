from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter

from baton_contracts import utc_now
from baton_runtime.metrics import END_TO_END_SECONDS, MESSAGES_SENT

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


def reply_sent(*, answered_by: str, provider: str, user_message_at: datetime | None) -> None:
    MESSAGES_SENT.labels(provider).inc()
    if user_message_at is not None:
        END_TO_END_SECONDS.labels(answered_by).observe(
            max(0.0, (utc_now() - user_message_at).total_seconds())
        )
