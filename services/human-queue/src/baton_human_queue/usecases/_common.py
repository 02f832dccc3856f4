"""What the use cases share: their settings, the tickets an agent may see, and carrying out a
change's follow-ups."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..domain import (
    DEFAULT_SLA_S,
    Agent,
    PriorityRules,
    UnknownTicketError,
    WrongStateError,
    check_visible,
)
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
