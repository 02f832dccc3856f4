"""The queue's Prometheus metrics (served on ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from baton_contracts import TicketKind, TicketStatus

OPEN_TICKETS = Gauge(
    "baton_queue_open_tickets",
    "Open tickets by status and kind (queue depth), as of the last sweep.",
    ["status", "kind"],
)
TICKETS_OPENED = Counter("baton_queue_tickets_opened_total", "Tickets created, by kind.", ["kind"])
MESSAGES_ATTACHED = Counter(
    "baton_queue_messages_attached_total",
    "User messages added to a conversation ticket that was already open.",
)
CLAIMS = Counter(
    "baton_queue_claims_total",
    "Claim attempts by outcome (claimed, renewed, conflict).",
    ["outcome"],
)
LEASES_EXPIRED = Counter(
    "baton_queue_leases_expired_total", "Claims returned to the queue after their lease ran out."
)
SLA_BREACHES = Counter(
    "baton_queue_sla_breaches_total", "Tickets that passed their SLA, by kind.", ["kind"]
)
ACTIONS = Counter(
    "baton_queue_actions_total",
    "Agent actions on tickets (reply, answer, approve, reject, resolve, release).",
    ["action"],
)
RESPONSE_SECONDS = Histogram(
    "baton_queue_first_response_seconds",
    "Time from a ticket's creation to the first human response, by kind.",
    ["kind"],
    buckets=(5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400),
)

KINDS: tuple[TicketKind, ...] = ("conversation", "question", "escalation", "approval")
OPEN: tuple[TicketStatus, ...] = ("pending", "assigned")


def set_open_tickets(counts: dict[tuple[str, str], int]) -> None:
    for status in OPEN:
        for kind in KINDS:
            OPEN_TICKETS.labels(status=status, kind=kind).set(counts.get((status, kind), 0))
