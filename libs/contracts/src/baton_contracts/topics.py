"""Kafka topic names.

Every event type travels on the topic of the same name; the dead letters of a topic go to
``<topic>.dlq``. Deployments that share a cluster put a prefix in front of every name
(see ``KAFKA_TOPIC_PREFIX`` in the services' settings).
"""

from __future__ import annotations

from typing import Final

MESSAGE_SUBMITTED: Final = "message.submitted"
MESSAGE_RECEIVED: Final = "message.received"
ROUTE_DECIDED: Final = "route.decided"
TOOL_HUMAN_REQUESTED: Final = "tool.human_requested"
HUMAN_RESPONDED: Final = "human.responded"
DRAFT_APPROVED: Final = "draft.approved"
DRAFT_REJECTED: Final = "draft.rejected"
ACTION_DECIDED: Final = "action.decided"
ACTION_EXECUTED: Final = "action.executed"
MESSAGE_DELTA: Final = "message.delta"
MESSAGE_SENT: Final = "message.sent"
THREAD_ASSIGNED: Final = "thread.assigned"
TICKET_OPENED: Final = "ticket.opened"
TICKET_SUMMARIZED: Final = "ticket.summarized"
TICKET_EXPIRED: Final = "ticket.expired"
TICKET_LEASE_EXPIRED: Final = "ticket.lease_expired"
TICKET_SLA_BREACHED: Final = "ticket.sla_breached"
THREAD_RATED: Final = "thread.rated"
AGENT_STATUS_CHANGED: Final = "agent.status_changed"

ALL: Final = (
    MESSAGE_SUBMITTED,
    MESSAGE_RECEIVED,
    ROUTE_DECIDED,
    TOOL_HUMAN_REQUESTED,
    HUMAN_RESPONDED,
    DRAFT_APPROVED,
    DRAFT_REJECTED,
    ACTION_DECIDED,
    ACTION_EXECUTED,
    MESSAGE_DELTA,
    MESSAGE_SENT,
    THREAD_ASSIGNED,
    TICKET_OPENED,
    TICKET_SUMMARIZED,
    TICKET_EXPIRED,
    TICKET_LEASE_EXPIRED,
    TICKET_SLA_BREACHED,
    THREAD_RATED,
    AGENT_STATUS_CHANGED,
)

DLQ_SUFFIX: Final = ".dlq"


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return f"{topic}{DLQ_SUFFIX}"
