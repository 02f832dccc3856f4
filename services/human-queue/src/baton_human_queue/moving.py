"""Moving work between people, free of I/O: who may transfer a ticket, assign it or take a
conversation over from the AI, and who may receive it.

A *transfer* moves a ticket to another department (and, optionally, to a named agent);
an *assignment* is a supervisor giving a ticket to an agent over any claim; a *takeover*
is a person stepping into a conversation the AI owns.
"""

from __future__ import annotations

from datetime import datetime

from .domain import (
    Agent,
    NotHolderError,
    NotSupervisorError,
    QueueError,
    WrongStateError,
    check_holder,
    check_thread_visible,
    check_visible,
)
from .staffing import AgentState, InactiveAgentError
from .tickets import TicketBase


class UnknownDepartmentError(QueueError):
    status = 404
    code = "unknown_department"


class AgentNotInDepartmentError(QueueError):
    """The agent named to receive a ticket does not serve the ticket's department."""

    status = 409
    code = "agent_not_in_department"


class NotAiOwnedError(QueueError):
    """A takeover of a thread people own already."""

    status = 409
    code = "not_ai_owned"


def check_mover(agent: Agent, ticket: TicketBase, now: datetime) -> None:
    """A ticket is transferred by its holder (with a live claim) or by a supervisor."""
    check_visible(agent, ticket)
    if ticket.status == "resolved":
        raise WrongStateError(f"ticket {ticket.ticket_id} is resolved")
    if agent.supervisor:
        return
    try:
        check_holder(agent, ticket, now)
    except NotHolderError as exc:
        raise NotHolderError(
            f"{exc}; only its holder or a supervisor may transfer ticket {ticket.ticket_id}"
        ) from None


def check_assigner(agent: Agent, ticket: TicketBase) -> None:
    """Only a supervisor assigns, over anyone's claim; a resolved ticket stays resolved."""
    if not agent.supervisor:
        raise NotSupervisorError(f"only a supervisor may assign tickets; {agent.name} is an agent")
    check_visible(agent, ticket)
    if ticket.status == "resolved":
        raise WrongStateError(f"ticket {ticket.ticket_id} is resolved")


def check_receiver(state: AgentState, department: str | None) -> None:
    """The agent a ticket is handed to by name: active and serving its department (a
    supervisor serves every department). Capacity is checked by the slot it takes."""
    if not state.active:
        raise InactiveAgentError(f"agent {state.agent.name} is deactivated")
    if not state.agent.serves(department):
        raise AgentNotInDepartmentError(
            f"{state.agent.name} does not serve department {department!r}"
        )


def check_taker(
    agent: Agent, thread_id: str, department: str | None, *, agents_may_take_over: bool
) -> None:
    """A supervisor takes over any conversation; an agent one of its departments, only
    where the configuration allows it (``HUMAN_QUEUE_TAKEOVER_BY_AGENTS``)."""
    if agent.supervisor:
        return
    if not agents_may_take_over:
        raise NotSupervisorError(
            f"only a supervisor may take a conversation over from the AI; {agent.name} is an agent"
        )
    check_thread_visible(agent, thread_id, department)
