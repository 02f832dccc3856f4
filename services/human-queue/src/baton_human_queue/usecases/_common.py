"""What the use cases share: their settings, the tickets an agent may see, and carrying out a
change's follow-ups."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from baton_contracts import SlaKind
from baton_conversations import ALWAYS_OPEN, BusinessHours

from ..domain import (
    DEFAULT_SLA_S,
    Agent,
    PriorityRules,
    QuestionTimeout,
    UnknownTicketError,
    WrongStateError,
    check_visible,
)
from ..notices import NoticeRules
from ..ports import Changed, TicketStore
from ..staffing import StaffingRules
from ..tickets import Ticket

log = logging.getLogger(__name__)

ATTEMPTS = 5
"""Reads of a ticket that changed between reading and writing it, before giving up."""


@dataclass(frozen=True)
class QueueConfig:
    lease_s: float = 600.0
    sla_s: Mapping[int, float] = field(default_factory=lambda: dict(DEFAULT_SLA_S))
    priority: PriorityRules = field(default_factory=PriorityRules)
    max_text_length: int = 4000
    context_messages: int = 20
    outbox_grace_s: float = 5.0
    staffing: StaffingRules = field(default_factory=StaffingRules)
    question_timeout: QuestionTimeout = field(default_factory=QuestionTimeout)
    action_timeout: QuestionTimeout = field(default_factory=QuestionTimeout)
    """How long a proposed tool call waits for a decision: the same shape as a question's."""
    next_response_sla_s: Mapping[int, float] = field(default_factory=lambda: dict(DEFAULT_SLA_S))
    """Like ``sla_s``, for people's next response to a user who wrote again."""
    resolution_sla_s: Mapping[int, float] = field(default_factory=dict)
    """Like ``sla_s``, for resolving the ticket; empty: no resolution SLA."""
    sla_raise: Mapping[SlaKind, int] = field(default_factory=dict)
    """How much a breach of each SLA raises the ticket's priority."""
    hours: BusinessHours = ALWAYS_OPEN
    """Departments' business hours: SLA clocks run in business time."""
    notices: NoticeRules = field(default_factory=NoticeRules)


async def visible(tickets: TicketStore, agent: Agent, ticket_id: str) -> Ticket:
    """The ticket, if ``agent`` may see it."""
    ticket = await tickets.get(ticket_id)
    if ticket is None:
        raise UnknownTicketError(f"ticket {ticket_id!r} does not exist")
    check_visible(agent, ticket)
    return ticket


async def follow_through(tickets: TicketStore, changed: Changed) -> Ticket:
    """Carry out a change's follow-ups. A failure (Kafka or MongoDB unreachable) leaves
    them to the sweep: the change is stored, so the request still succeeds."""
    try:
        await tickets.deliver(changed.ticket.ticket_id, changed.follow_ups)
    except Exception:
        log.warning(
            "follow-ups of ticket %s left for the sweep", changed.ticket.ticket_id, exc_info=True
        )
    return changed.ticket


def keeps_changing(ticket_id: str) -> WrongStateError:
    return WrongStateError(f"ticket {ticket_id} keeps changing; try again")
