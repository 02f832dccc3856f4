"""The queue's Prometheus metrics (served on ``/metrics``).

Counters and histograms count what this process did. The gauges (queue depth, oldest
waiting ticket, busiest agents) are read from MongoDB by :func:`refresh_queue_metrics` every
``REFRESH_INTERVAL_S``, so every replica reports the same figures: aggregate them with
``max``, not ``sum``.

Label values stay bounded: kinds, statuses and actions are fixed sets; a department is a
label value only when an agent serves it (tickets of any other department count as
``other``, tickets without one as ``none``), and agents appear only as the busiest few, by
id: names are personal data, which metrics (scraped, kept, shown widely) do not carry.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol, get_args

from prometheus_client import Counter, Gauge, Histogram

from baton_contracts import NoticeKind, SlaKind, TicketKind, TicketStatus, utc_now
from baton_runtime import Document, Unreadable, record_message_sent, start_reply_metrics

from .tickets import TicketBase

if TYPE_CHECKING:
    from .ports import AgentStore
    from .staffing import AgentState

KINDS: tuple[TicketKind, ...] = ("conversation", "question", "escalation", "approval", "action")
OPEN: tuple[TicketStatus, ...] = ("pending", "assigned")
ACTIONS_DONE = (
    "reply",
    "answer",
    "approve",
    "reject",
    "resolve",
    "release",
    "assign",
    "approve_action",
    "deny_action",
)
PRESENCES = ("online", "away", "offline")
CLAIM_OUTCOMES = ("claimed", "renewed", "conflict", "at_capacity")

MAX_DEPARTMENTS = 50
"""Departments with a label value of their own; beyond them (alphabetically) ``other``."""
TOP_AGENTS = 10
"""Agents with a throughput series of their own; the rest are summed as ``other``."""
THROUGHPUT_WINDOW = timedelta(hours=1)
REFRESH_INTERVAL_S = 5.0
"""How often the gauges are read from MongoDB: Prometheus scrapes every few seconds, and
each refresh reads every open ticket."""
NO_DEPARTMENT = "none"
OTHER = "other"

WAIT_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)

OPEN_TICKETS = Gauge(
    "baton_queue_open_tickets",
    "Open tickets (queue depth) by status, kind and department, read from MongoDB: every "
    "replica reports the same figure. Departments no agent serves count as `other`, "
    "tickets without a department as `none`.",
    ["status", "kind", "department"],
)
OLDEST_PENDING_SECONDS = Gauge(
    "baton_queue_oldest_pending_seconds",
    "Age of the oldest ticket waiting to be claimed, by kind (0 when none waits).",
    ["kind"],
)
AGENT_RESOLVED = Gauge(
    "baton_queue_agent_resolved_tickets",
    f"Tickets resolved in the last hour by each of the {TOP_AGENTS} agents who resolved "
    "the most, by agent id; all other agents together as `other`.",
    ["agent_id"],
)
TICKETS_OPENED = Counter("baton_queue_tickets_opened_total", "Tickets created, by kind.", ["kind"])
MESSAGES_ATTACHED = Counter(
    "baton_queue_messages_attached_total",
    "User messages added to a conversation ticket that was already open.",
)
CLAIMS = Counter(
    "baton_queue_claims_total",
    "Claim attempts by outcome (claimed, renewed, conflict, at_capacity).",
    ["outcome"],
)
LEASES_EXPIRED = Counter(
    "baton_queue_leases_expired_total", "Claims returned to the queue after their lease ran out."
)
SLA_BREACHES = Counter(
    "baton_queue_sla_breaches_total",
    "SLA breaches by ticket kind and by the clock that ran out (`sla`: first_response, "
    "next_response, resolution).",
    ["kind", "sla"],
)
NOTICES = Counter(
    "baton_queue_notices_total",
    "Baton's notices to users stored in their threads (and announced), by notice "
    "(handoff, checking, agent_joined, handback, resolved, rating).",
    ["notice"],
)
TICKETS_EXPIRED = Counter(
    "baton_queue_tickets_expired_total",
    "Tickets closed unanswered when their time ran out (questions for a person, actions "
    "nobody decided), by kind "
    "and the AI's fallback (ai: it answers without them; human: people take the thread).",
    ["kind", "fallback"],
)
ACTIONS = Counter(
    "baton_queue_actions_total",
    "Agent actions on tickets (reply, answer, approve, reject, resolve, release, assign, "
    "approve_action, deny_action).",
    ["action"],
)
TIME_TO_CLAIM_SECONDS = Histogram(
    "baton_queue_time_to_claim_seconds",
    "Time from a ticket's creation to its first claim, by kind.",
    ["kind"],
    buckets=WAIT_BUCKETS,
)
TIME_TO_ASSIGNMENT_SECONDS = Histogram(
    "baton_queue_time_to_assignment_seconds",
    "Time from a ticket's creation to its first holder, however it got one (a claim, "
    "auto-assignment, a supervisor's assignment, a transfer to an agent), by kind.",
    ["kind"],
    buckets=WAIT_BUCKETS,
)
TRANSFERS = Counter(
    "baton_queue_transfers_total",
    "Tickets transferred, by source and target department (departments no agent serves "
    "count as `other`, none as `none`).",
    ["from_department", "to_department"],
)
TAKEOVERS = Counter("baton_queue_takeovers_total", "Conversations people took over from the AI.")
CSAT_RATINGS = Counter(
    "baton_csat_ratings_total",
    "Users' ratings of conversations (CSAT), by who resolved the conversation (`ai`, "
    "`human`) and score (1 to 5); each rating counted once, when the queue first keeps it.",
    ["resolved_by", "score"],
)
AGENTS = Gauge(
    "baton_queue_agents",
    "Active agents by department they serve and presence (online, away, offline), read "
    "from MongoDB; an agent of several departments counts in each.",
    ["department", "status"],
)
AGENT_OPEN_TICKETS = Gauge(
    "baton_queue_agent_open_tickets",
    f"Tickets held now by each of the {TOP_AGENTS} agents holding the most, by agent id; "
    "all other agents together as `other`.",
    ["agent_id"],
)
AGENT_CAPACITY = Gauge(
    "baton_queue_agent_capacity",
    "The capacity of the agents of `baton_queue_agent_open_tickets`, by agent id (`other`: "
    "the other active agents' together).",
    ["agent_id"],
)
RESPONSE_SECONDS = Histogram(
    "baton_queue_first_response_seconds",
    "Time from a ticket's creation to the first human response, by kind.",
    ["kind"],
    buckets=WAIT_BUCKETS,
)

# Every fixed label value exists from the start at zero, so increase() and the alerts built
# on it also see a value's first change, and panels show 0 rather than no data.
for _kind in KINDS:
    TICKETS_OPENED.labels(kind=_kind)
    for _sla in get_args(SlaKind):
        SLA_BREACHES.labels(kind=_kind, sla=_sla)
    TIME_TO_CLAIM_SECONDS.labels(kind=_kind)
    TIME_TO_ASSIGNMENT_SECONDS.labels(kind=_kind)
    RESPONSE_SECONDS.labels(kind=_kind)
for _fallback in ("ai", "human"):
    for _expiring in ("question", "action"):
        TICKETS_EXPIRED.labels(kind=_expiring, fallback=_fallback)
for _notice in get_args(NoticeKind):
    NOTICES.labels(notice=_notice)
for _action in ACTIONS_DONE:
    ACTIONS.labels(action=_action)
for _outcome in CLAIM_OUTCOMES:
    CLAIMS.labels(outcome=_outcome)
for _resolved_by in ("ai", "human"):
    for _score in range(1, 6):
        CSAT_RATINGS.labels(resolved_by=_resolved_by, score=str(_score))
start_reply_metrics("human", answered_by=("human",))


def human_reply_sent(*, user_message_at: datetime | None) -> None:
    """An agent's reply went to the user: it counts with the AI's replies."""
    record_message_sent(provider="human", answered_by="human", user_message_at=user_message_at)


def rated(resolved_by: str, score: int) -> None:
    CSAT_RATINGS.labels(resolved_by=resolved_by, score=str(score)).inc()


def responded(ticket: TicketBase, now: datetime) -> None:
    """A person responded on ``ticket``: its first response is measured."""
    if ticket.first_response_at is None:
        RESPONSE_SECONDS.labels(kind=ticket.kind).observe(
            max(0.0, (now - ticket.created_at).total_seconds())
        )


def first_claim(kind: str, *, created_at: datetime, claimed_at: datetime) -> None:
    TIME_TO_CLAIM_SECONDS.labels(kind=kind).observe(
        max(0.0, (claimed_at - created_at).total_seconds())
    )
    first_assignment(kind, created_at=created_at, at=claimed_at)


def first_assignment(kind: str, *, created_at: datetime, at: datetime) -> None:
    """A ticket got its first holder (any way): the wait for a person to have it."""
    TIME_TO_ASSIGNMENT_SECONDS.labels(kind=kind).observe(
        max(0.0, (at - created_at).total_seconds())
    )


_labelled: frozenset[str] = frozenset()
"""The departments with a label value of their own, as the last refresh found them: the
counters, written between refreshes, use the same bounded set."""


def transferred(source: str | None, target: str | None) -> None:
    TRANSFERS.labels(
        from_department=department_label(source, _labelled),
        to_department=department_label(target, _labelled),
    ).inc()


# ---------------------------------------------------------------- the gauges, from MongoDB


class QueueFigures(Protocol):
    """What the gauges read of the tickets (:class:`~baton_human_queue.store.MongoTickets`)."""

    async def open_summary(self) -> list[Document]: ...

    async def resolved_since(self, since: datetime) -> list[Document]: ...


@dataclass(frozen=True)
class OpenTicket:
    status: str
    kind: str
    department: str | None
    created_at: datetime


_UNREADABLE = Unreadable(reader="queue gauges", kind="ticket")
"""The gauges' documents that are no ticket; like the gauges, one per process."""


def open_tickets(docs: Sequence[Document]) -> list[OpenTicket]:
    """The open tickets' summaries (:meth:`QueueFigures.open_summary`); a document that is no
    ticket is left out (:class:`Unreadable`)."""
    return _UNREADABLE.parse(docs, _summary)


def _summary(doc: Document) -> OpenTicket:
    return OpenTicket(doc["status"], doc["kind"], doc.get("department"), doc["created_at"])


def labelled_departments(served: Iterable[str]) -> frozenset[str]:
    """The departments that get a label value of their own: those agents serve, capped."""
    return frozenset(
        sorted({d for d in served if d not in (NO_DEPARTMENT, OTHER)})[:MAX_DEPARTMENTS]
    )


def department_label(department: str | None, labelled: Collection[str]) -> str:
    if department is None:
        return NO_DEPARTMENT
    return department if department in labelled else OTHER


def queue_depth(
    tickets: Iterable[OpenTicket], labelled: Collection[str]
) -> dict[tuple[str, str, str], int]:
    """Open tickets by (status, kind, department label); every labelled department, ``none``
    and ``other`` appear with every status and kind, at zero when empty."""
    depth: dict[tuple[str, str, str], int] = {
        (status, kind, department): 0
        for status in OPEN
        for kind in KINDS
        for department in (*sorted(labelled), NO_DEPARTMENT, OTHER)
    }
    for ticket in tickets:
        key = (ticket.status, ticket.kind, department_label(ticket.department, labelled))
        depth[key] = depth.get(key, 0) + 1
    return depth


def oldest_pending(tickets: Iterable[OpenTicket], now: datetime) -> dict[str, float]:
    ages: dict[str, float] = dict.fromkeys(KINDS, 0.0)
    for ticket in tickets:
        if ticket.status == "pending":
            age = max(0.0, (now - ticket.created_at).total_seconds())
            ages[ticket.kind] = max(ages.get(ticket.kind, 0.0), age)
    return ages


def busiest_agents(resolvers: Iterable[str], *, top: int = TOP_AGENTS) -> dict[str, int]:
    """Resolved tickets per agent id: the ``top`` agents by count, the rest summed as
    ``other``, which is always present."""
    tally = Tally(resolvers)
    ranked = sorted(tally.items(), key=lambda item: (-item[1], item[0]))
    busiest = dict(ranked[:top])
    busiest[OTHER] = sum(count for _, count in ranked[top:])
    return busiest


def agents_by_status(
    states: Iterable[AgentState], labelled: Collection[str]
) -> dict[tuple[str, str], int]:
    """Active agents by (department label, presence): every labelled department and
    ``other`` appear with every presence, at zero when nobody is."""
    counts: dict[tuple[str, str], int] = {
        (department, status): 0 for department in (*sorted(labelled), OTHER) for status in PRESENCES
    }
    for state in states:
        if not state.active:
            continue
        for department in {department_label(d, labelled) for d in state.agent.departments}:
            key = (department, state.status)
            counts[key] = counts.get(key, 0) + 1
    return counts


def agent_load(
    states: Iterable[AgentState], *, default_capacity: int, top: int = TOP_AGENTS
) -> dict[str, tuple[int, int]]:
    """(open tickets, capacity) of the ``top`` active agents holding the most, by id; the
    rest summed as ``other``, which is always present."""
    active = sorted(
        (s for s in states if s.active), key=lambda s: (-s.open_tickets, s.agent.agent_id)
    )
    load = {s.agent.agent_id: (s.open_tickets, s.capacity(default_capacity)) for s in active[:top]}
    rest = active[top:]
    load[OTHER] = (
        sum(s.open_tickets for s in rest),
        sum(s.capacity(default_capacity) for s in rest),
    )
    return load


def _replace(gauge: Gauge, values: Iterable[tuple[tuple[str, ...], float]]) -> None:
    # No await between clearing and setting: a scrape, served on the same event loop,
    # never sees the gauge half filled.
    gauge.clear()
    for labels, value in values:
        gauge.labels(*labels).set(value)


async def refresh_queue_metrics(
    tickets: QueueFigures,
    agents: AgentStore,
    *,
    now: datetime | None = None,
    default_capacity: int = 5,
) -> None:
    global _labelled
    now = now or utc_now()
    open_docs = await tickets.open_summary()
    records = await agents.all()
    resolutions = await tickets.resolved_since(now - THROUGHPUT_WINDOW)

    summaries = open_tickets(open_docs)
    labelled = labelled_departments(
        department for record in records if record.active for department in record.agent.departments
    )
    resolvers = [str(r["agent_id"]) for r in resolutions if r.get("agent_id")]
    _replace(OPEN_TICKETS, queue_depth(summaries, labelled).items())
    _replace(OLDEST_PENDING_SECONDS, [((k,), v) for k, v in oldest_pending(summaries, now).items()])
    _replace(AGENT_RESOLVED, [((agent,), n) for agent, n in busiest_agents(resolvers).items()])
    states = await agents.states()
    _labelled = labelled
    _replace(AGENTS, agents_by_status(states, labelled).items())
    load = agent_load(states, default_capacity=default_capacity)
    _replace(AGENT_OPEN_TICKETS, [((agent,), held) for agent, (held, _) in load.items()])
    _replace(AGENT_CAPACITY, [((agent,), capacity) for agent, (_, capacity) in load.items()])
