"""The webhooks' Prometheus metrics.

Counters and histograms count what this instance did; they carry no gateway label, since
the busiest of them are touched once per delivery. The gauge of pending and dead deliveries
is read from MongoDB every ``REFRESH_INTERVAL_S`` (every replica reports the same figures:
aggregate it with ``max``, not ``sum``) and is labelled by gateway id for the first
``MAX_LABELLED_GATEWAYS`` webhooks made: gateways are set up by an admin, so there are few,
and "whose endpoint is failing" is the question the gauge answers. Any later ones count as
``other``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

from .domain import Status, Webhook
from .ports import DeliveryStore, WebhookStore

OUTCOMES = ("delivered", "retried", "dead", "discarded")
STATES: tuple[Status, ...] = ("pending", "dead")
MAX_LABELLED_GATEWAYS = 20
OTHER = "other"
REFRESH_INTERVAL_S = 5.0

DELIVERIES = Counter(
    "baton_webhook_deliveries_total",
    "Webhook tries by outcome: delivered (a 2xx), retried (failed, tried again later), dead "
    "(failed its last try: a dead letter), discarded (its webhook or gateway was removed).",
    ["outcome"],
)
DELIVERY_LATENCY_SECONDS = Histogram(
    "baton_webhook_delivery_latency_seconds",
    "Time from an event's occurred_at to its webhook delivery's 2xx, retries included.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400),
)
ATTEMPT_SECONDS = Histogram(
    "baton_webhook_attempt_seconds",
    "Duration of one POST to a webhook URL, until its status or its failure (a timeout "
    "lasts INGEST_WEBHOOK_TIMEOUT_S).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WAITING = Gauge(
    "baton_webhook_undelivered",
    "Webhook deliveries not delivered, by state (pending: waiting for a try or in one; "
    "dead: a dead letter, until redelivered) and gateway id (`other` beyond the first "
    f"{MAX_LABELLED_GATEWAYS} webhooks), read from MongoDB: every replica reports the same "
    "figure.",
    ["state", "gateway_id"],
)


def start_webhook_metrics() -> None:
    """Create every outcome's series at zero, and the gauge's ``other``, so increase() and
    the alerts see a series' first change and the panels show 0, not no data."""
    for outcome in OUTCOMES:
        DELIVERIES.labels(outcome)
    for state in STATES:
        WAITING.labels(state, OTHER)


def attempted(seconds: float) -> None:
    ATTEMPT_SECONDS.observe(seconds)


def delivered(*, occurred_at: datetime, now: datetime) -> None:
    DELIVERIES.labels("delivered").inc()
    DELIVERY_LATENCY_SECONDS.observe(max(0.0, (now - occurred_at).total_seconds()))


def failed(*, dead: bool) -> None:
    DELIVERIES.labels("dead" if dead else "retried").inc()


def discarded() -> None:
    DELIVERIES.labels("discarded").inc()


def waiting(
    counts: Mapping[tuple[str, Status], int], webhooks: Iterable[Webhook]
) -> dict[tuple[str, str], int]:
    """The gauge's values: per state, the first ``MAX_LABELLED_GATEWAYS`` webhooks' gateways
    (oldest first) and ``other``, all present, at zero when none wait."""
    labelled = dict.fromkeys([w.gateway_id for w in webhooks][:MAX_LABELLED_GATEWAYS])
    values: dict[tuple[str, str], int] = {
        (state, g): 0 for state in STATES for g in (*labelled, OTHER)
    }
    for (gateway_id, state), n in counts.items():
        key = (state, gateway_id if gateway_id in labelled else OTHER)
        values[key] = values.get(key, 0) + n
    return values


def show_waiting(values: Mapping[tuple[str, str], int]) -> None:
    # No await between clearing and setting: a scrape, served on the same event loop, never
    # sees the gauge half filled.
    WAITING.clear()
    for (state, gateway_id), n in values.items():
        WAITING.labels(state, gateway_id).set(n)


async def refresh_webhook_metrics(webhooks: WebhookStore, deliveries: DeliveryStore) -> None:
    counts = await deliveries.counts()
    show_waiting(waiting(counts, await webhooks.all()))
