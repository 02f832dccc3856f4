"""The queue's decisions, free of I/O: priorities, SLAs, leases, who may do what.

Every function takes the current time as an argument, so the rules are tested without
clocks or databases.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

import jsonschema
from jsonschema import Draft202012Validator, SchemaError
from pydantic import BaseModel, ConfigDict, Field

from baton_contracts import Fallback, HumanAgent, SlaKind, TicketKind, TicketStatus
from baton_conversations import OpeningHours
from baton_runtime import RefusedError

from .tickets import Action, Holder, Ticket, TicketBase

T = TypeVar("T", bound=TicketBase)

THREAD_KINDS: frozenset[TicketKind] = frozenset({"conversation", "escalation"})
"""Kinds that hand a whole conversation to a person (as opposed to a single request)."""

ACTION_KINDS: Mapping[Action, frozenset[TicketKind]] = {
    "reply": THREAD_KINDS,
    "resolve": THREAD_KINDS,
    "answer": frozenset({"question"}),
    "approve": frozenset({"approval"}),
    "reject": frozenset({"approval"}),
    "approve_action": frozenset({"action"}),
    "deny_action": frozenset({"action"}),
}

DEFAULT_KIND_PRIORITY: Mapping[TicketKind, int] = {
    "conversation": 0,
    "escalation": 10,
    "question": 20,
    "approval": 30,
    "action": 30,
}
DEFAULT_SLA_S: Mapping[int, float] = {0: 3600.0, 20: 900.0, 50: 300.0}
MAX_REVIEW_LENGTH = 4000
DEFAULT_QUESTION_TIMEOUT_S = 1800.0
"""Also the default of an action's timeout: both wait for one decision by a person."""

SUMMARIZED_KINDS: frozenset[TicketKind] = frozenset(
    {"conversation", "escalation", "question", "action"}
)
"""Kinds whose opening is announced (``ticket.opened``), for the AI to summarise the
conversation for whoever picks the ticket up."""


ALL_STATUSES: tuple[TicketStatus, ...] = ("pending", "assigned", "resolved")

Role = Literal["agent", "supervisor"]
"""``agent``: works its departments' tickets; ``supervisor``: every department's, and may
assign, transfer and take over. Administration takes the admin token, no role."""
ROLES: tuple[Role, ...] = ("agent", "supervisor")


class QueueError(RefusedError):
    """A request the queue refuses. Subclasses set the HTTP ``status`` and ``code``."""


class UnknownTicketError(QueueError):
    status = 404
    code = "unknown_ticket"


class WrongDepartmentError(QueueError):
    status = 403
    code = "wrong_department"


class NoTicketError(QueueError):
    """A thread none of whose tickets the agent may see: it was never handed to them."""

    status = 403
    code = "no_ticket"


class NotHolderError(QueueError):
    status = 403
    code = "not_holder"


class AlreadyClaimedError(QueueError):
    status = 409
    code = "already_claimed"


class WrongStateError(QueueError):
    status = 409
    code = "wrong_state"


class WrongKindError(QueueError):
    status = 409
    code = "wrong_kind"


class LeaseExpiredError(QueueError):
    status = 409
    code = "lease_expired"


class AtCapacityError(QueueError):
    """The agent holds as many tickets as it may at once."""

    status = 409
    code = "at_capacity"


class NotSupervisorError(QueueError):
    status = 403
    code = "not_supervisor"


class InvalidTextError(QueueError):
    code = "invalid_text"


class NotInTicketError(QueueError):
    """A reply names a user message the ticket does not hold."""

    code = "not_in_ticket"


class InvalidRequestError(QueueError):
    """A request for a person that cannot become a ticket."""

    code = "invalid_request"


class InvalidArgumentsError(QueueError):
    """Arguments of a tool call that its JSON Schema refuses."""

    code = "invalid_arguments"


def _kind_priorities() -> dict[TicketKind, int]:
    return dict(DEFAULT_KIND_PRIORITY)


class PriorityRules(BaseModel):
    """A ticket's priority is the sum of its kind's, its user tier's and its department's
    values (higher is served first)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    by_kind: dict[TicketKind, int] = Field(default_factory=_kind_priorities)
    by_tier: dict[str, int] = Field(default_factory=lambda: {"vip": 50})
    by_department: dict[str, int] = Field(default_factory=dict)

    def priority(self, kind: TicketKind, *, tier: str | None, department: str | None) -> int:
        tiers = {k.casefold(): v for k, v in self.by_tier.items()}
        departments = {k.casefold(): v for k, v in self.by_department.items()}
        return (
            self.by_kind.get(kind, 0)
            + (tiers.get(tier.casefold(), 0) if tier else 0)
            + (departments.get(department.casefold(), 0) if department else 0)
        )


class DepartmentTimeout(BaseModel):
    """A department's own question timeout: ``after_s`` null never closes its questions;
    ``fallback`` null keeps the general one."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    after_s: float | None = Field(gt=0)
    fallback: Fallback | None = None


class QuestionTimeout(BaseModel):
    """How long the AI's question to a person (``ask_human``) waits for an answer before
    the sweep closes it, and what the AI does then: ``ai`` answers without it, ``human``
    hands the conversation to people. A department may have its own.

    An action (a tool call waiting for approval) has a timeout of the same shape: with
    ``ai`` the AI takes it as denied (reason ``expired``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    after_s: float | None = Field(default=DEFAULT_QUESTION_TIMEOUT_S, gt=0)
    """None: questions wait for an answer however long it takes."""
    fallback: Fallback = "ai"
    by_department: dict[str, DepartmentTimeout] = Field(default_factory=dict)

    def deadline(self, department: str | None, now: datetime) -> tuple[datetime | None, Fallback]:
        """When a question of ``department`` asked ``now`` expires (None: never), and the
        fallback then."""
        departments = {k.casefold(): v for k, v in self.by_department.items()}
        own = departments.get(department.casefold()) if department else None
        after_s = own.after_s if own is not None else self.after_s
        fallback = (own.fallback if own is not None else None) or self.fallback
        return (now + timedelta(seconds=after_s) if after_s is not None else None), fallback


def sla_seconds(priority: int, table: Mapping[int, float]) -> float:
    """The SLA of the entry with the highest key not above ``priority``; below every key,
    the lowest key's."""
    eligible = [key for key in table if key <= priority]
    return table[max(eligible)] if eligible else table[min(table)]


def sla_due(
    now: datetime,
    priority: int,
    table: Mapping[int, float],
    hours: OpeningHours | None = None,
) -> datetime:
    """When a clock of ``table``'s length for ``priority``, started ``now``, runs out: in
    business time when the department has ``hours`` (only its open hours count)."""
    seconds = sla_seconds(priority, table)
    return hours.add(now, seconds) if hours is not None else now + timedelta(seconds=seconds)


def optional_sla_due(
    now: datetime,
    priority: int,
    table: Mapping[int, float],
    hours: OpeningHours | None = None,
) -> datetime | None:
    """:func:`sla_due` for a clock that may be off (an empty ``table``: None)."""
    return sla_due(now, priority, table, hours) if table else None


@dataclass(frozen=True)
class Agent:
    agent_id: str
    name: str
    departments: tuple[str, ...]
    role: Role = "agent"
    capacity: int | None = None
    """The most tickets the agent holds at once; None: the configured default."""

    @property
    def supervisor(self) -> bool:
        return self.role == "supervisor"

    @property
    def visible_departments(self) -> tuple[str, ...] | None:
        """The departments whose tickets the agent sees; None: every department."""
        return None if self.supervisor else self.departments

    def serves(self, department: str | None) -> bool:
        """Tickets and threads without a department are everyone's; a supervisor's, all."""
        return self.supervisor or department is None or department in self.departments

    def acting_for(self, department: str | None) -> HumanAgent:
        """The agent as named in events, acting for ``department`` (else its first one)."""
        return HumanAgent(
            agent_id=self.agent_id,
            name=self.name,
            department=department or (self.departments[0] if self.departments else None),
        )

    def holding(self, department: str | None) -> Holder:
        """The agent as the holder of a claim on a ticket of ``department``."""
        return Holder(
            agent_id=self.agent_id,
            name=self.name,
            department=self.acting_for(department).department,
        )


# ---------------------------------------------------------------- who may do what


def check_visible(agent: Agent, ticket: TicketBase) -> None:
    if not agent.serves(ticket.department):
        raise WrongDepartmentError(
            f"ticket {ticket.ticket_id} belongs to department {ticket.department!r}, "
            f"which {agent.name} does not serve"
        )


def check_thread_visible(agent: Agent, thread_id: str, department: str | None) -> None:
    """A thread is read by the agents of its department (everyone, without one)."""
    if not agent.serves(department):
        raise WrongDepartmentError(
            f"thread {thread_id} belongs to department {department!r}, "
            f"which {agent.name} does not serve"
        )


def check_department_filter(agent: Agent, department: str | None) -> None:
    if department is not None and not agent.serves(department):
        raise WrongDepartmentError(f"{agent.name} does not serve department {department!r}")


def check_supervisor(agent: Agent, what: str) -> None:
    if not agent.supervisor:
        raise NotSupervisorError(f"only a supervisor may {what}; {agent.name} is an agent")


def check_kind(ticket: Ticket, action: Action) -> None:
    allowed = ACTION_KINDS[action]
    if ticket.kind not in allowed:
        kinds = " or ".join(sorted(allowed))
        raise WrongKindError(
            f"cannot {action} a {ticket.kind} ticket; {action} applies to {kinds} tickets"
        )


def ticket_for(ticket: Ticket, action: Action, as_type: type[T]) -> T:
    """``ticket`` as the kind ``action`` applies to (``as_type``), else refused."""
    check_kind(ticket, action)
    assert isinstance(ticket, as_type)
    return ticket


def answered_message(ticket: TicketBase, in_reply_to: uuid.UUID | None) -> uuid.UUID:
    """The user message a reply on ``ticket`` answers: the one named, if the ticket holds
    it, else the ticket's latest."""
    if in_reply_to is None:
        return ticket.latest_message_id
    if in_reply_to not in (ticket.user_message_id, *ticket.message_ids):
        raise NotInTicketError(f"ticket {ticket.ticket_id} holds no user message {in_reply_to}")
    return in_reply_to


def lease_expired(ticket: TicketBase, now: datetime) -> bool:
    return ticket.lease_expires_at is not None and ticket.lease_expires_at <= now


ClaimVerdict = Literal["claim", "renew"]


def closed(ticket: TicketBase) -> WrongStateError:
    """The refusal of any action on a closed ticket: resolved by a person, or expired."""
    if ticket.expired_at is not None:
        return WrongStateError(f"ticket {ticket.ticket_id} expired: {ticket.expiry_reason}")
    return WrongStateError(f"ticket {ticket.ticket_id} is resolved")


def claim_verdict(agent: Agent, ticket: TicketBase, now: datetime) -> ClaimVerdict:
    """``claim`` a free ticket (pending, or its holder's lease ran out), ``renew`` one the
    agent holds already; anything else is refused."""
    if ticket.status == "resolved":
        raise closed(ticket)
    if ticket.status == "assigned" and ticket.holder is not None and not lease_expired(ticket, now):
        if ticket.holder.agent_id == agent.agent_id:
            return "renew"
        raise AlreadyClaimedError(f"ticket {ticket.ticket_id} is claimed by {ticket.holder.name}")
    return "claim"


def check_holder(agent: Agent, ticket: TicketBase, now: datetime) -> tuple[Holder, str]:
    """The agent's hold on ``ticket`` and its claim id: only the holder may act on it."""
    if ticket.status == "resolved":
        raise closed(ticket)
    holder = ticket.holder
    if ticket.status != "assigned" or holder is None or ticket.claim_id is None:
        raise NotHolderError(f"ticket {ticket.ticket_id} is not claimed; claim it first")
    if holder.agent_id != agent.agent_id:
        raise NotHolderError(f"ticket {ticket.ticket_id} is claimed by {holder.name}, not you")
    if lease_expired(ticket, now):
        raise LeaseExpiredError(f"your claim on ticket {ticket.ticket_id} expired; claim it again")
    return holder, ticket.claim_id


def check_releaser(agent: Agent, ticket: TicketBase, now: datetime) -> str:
    """The claim ``agent`` gives back: its own, even when its lease ran out (the sweep
    would do the same)."""
    holder = ticket.holder
    if (
        ticket.status == "assigned"
        and holder is not None
        and holder.agent_id == agent.agent_id
        and ticket.claim_id is not None
        and lease_expired(ticket, now)
    ):
        return ticket.claim_id
    return check_holder(agent, ticket, now)[1]


def repeated_resolution(agent: Agent, ticket: TicketBase, action: Action) -> bool:
    """True when ``agent`` already did ``action`` on this ticket: a retried request."""
    resolution = ticket.resolution
    return (
        ticket.status == "resolved"
        and resolution is not None
        and resolution.action == action
        and resolution.agent_id == agent.agent_id
    )


FIT_TEXT_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
"""Text a person writes, for the API's schema: no control characters but tab and line breaks."""
FIT_NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]+$"
"""A name or a department: one line, no control characters."""
UNFIT_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
"""What no text a person writes may hold: control characters other than tab and line breaks
(NUL among them), and lone surrogates, which are no Unicode text and which MongoDB cannot
store."""


def check_text(text: str, *, max_length: int, what: str = "text") -> str:
    if not text.strip():
        raise InvalidTextError(f"{what} is empty")
    if len(text) > max_length:
        raise InvalidTextError(f"{what} has {len(text)} characters; the limit is {max_length}")
    unfit = UNFIT_CHARACTERS.search(text)
    if unfit is not None:
        raise InvalidTextError(
            f"{what} holds U+{ord(unfit.group()):04X} at position {unfit.start()}: control "
            "characters (other than tab and line breaks) and lone surrogates are refused"
        )
    return text


def approved_text(draft_text: str | None, text: str | None) -> tuple[str, bool]:
    """The text to send for an approval and whether the person edited the draft."""
    original = draft_text or ""
    if text is None or text == original:
        if not original:
            raise InvalidTextError("the draft is empty; approve it with a text")
        return original, False
    return text, True


def check_tool_schema(parameters: Mapping[str, Any]) -> None:
    """A tool's ``parameters`` must be a JSON Schema (Draft 2020-12) the queue can check
    arguments against; else the request cannot become a ticket."""
    try:
        Draft202012Validator.check_schema(parameters)
    except SchemaError as exc:
        raise InvalidRequestError(
            f"the tool's parameters are no valid JSON Schema: {exc.message}"
        ) from exc


def check_arguments(parameters: Mapping[str, Any], arguments: Mapping[str, Any]) -> None:
    """Refuse ``arguments`` that the tool's JSON Schema (Draft 2020-12) does not accept,
    naming where and why (the most relevant error, when there are several)."""
    errors = Draft202012Validator(parameters).iter_errors(arguments)
    error = jsonschema.exceptions.best_match(errors)
    if error is not None:
        raise InvalidArgumentsError(
            f"the arguments do not match the tool's schema: at {error.json_path}: {error.message}"
        )


def same_arguments(first: Mapping[str, Any], second: Mapping[str, Any]) -> bool:
    """Equal as JSON: ``1`` and ``true`` differ here, though Python calls them equal."""
    return json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def approved_arguments(
    parameters: Mapping[str, Any],
    proposed: Mapping[str, Any],
    arguments: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], bool]:
    """The arguments an approved call runs with (None: as proposed) and whether the person
    edited them. They are checked against the schema either way: an approval never lets a
    call the tool's schema refuses run."""
    final = dict(proposed if arguments is None else arguments)
    check_arguments(parameters, final)
    return final, not same_arguments(proposed, final)


def sla_breach_due(ticket: TicketBase, now: datetime) -> bool:
    """The SLA is the time a customer waits for a person: it is met by the first response
    (a reply, answer, review or resolution) and breached once per ticket."""
    return (
        ticket.status != "resolved"
        and not ticket.sla_breached
        and ticket.first_response_at is None
        and ticket.sla_due_at <= now
    )


def next_response_breach_due(ticket: TicketBase, now: datetime) -> bool:
    """The user wrote again after people answered, and nobody has answered that by the
    due time: breached once per wait (a reply ends the wait)."""
    due = ticket.next_response_due_at
    return (
        ticket.status != "resolved"
        and ticket.first_response_at is not None
        and due is not None
        and ticket.next_response_breached_at is None
        and due <= now
    )


def resolution_breach_due(ticket: TicketBase, now: datetime) -> bool:
    """An open ticket past its resolution due time: breached once per ticket."""
    due = ticket.resolution_due_at
    return (
        ticket.status != "resolved"
        and due is not None
        and ticket.resolution_breached_at is None
        and due <= now
    )


def breach_due(ticket: TicketBase, sla: SlaKind, now: datetime) -> bool:
    """Whether ``ticket``'s clock ``sla`` ran out by ``now`` and was not flagged yet."""
    if sla == "first_response":
        return sla_breach_due(ticket, now)
    if sla == "next_response":
        return next_response_breach_due(ticket, now)
    return resolution_breach_due(ticket, now)


def clock_due(ticket: TicketBase, sla: SlaKind) -> datetime | None:
    """When ``ticket``'s clock ``sla`` runs out (None: it does not run)."""
    if sla == "first_response":
        return ticket.sla_due_at
    if sla == "next_response":
        return ticket.next_response_due_at
    return ticket.resolution_due_at


def expiry_due(ticket: TicketBase, now: datetime) -> bool:
    """An open ticket nobody answered by its ``expires_at`` (a question for a person)."""
    return (
        ticket.status != "resolved" and ticket.expires_at is not None and ticket.expires_at <= now
    )


def expiry_reason(ticket: TicketBase) -> str:
    """Why ``ticket`` expired, in words for the AI, the agent and the event."""
    waited = (ticket.expires_at - ticket.created_at) if ticket.expires_at else timedelta()
    done = "decided" if ticket.kind == "action" else "answered"
    return f"nobody {done} within {_spoken(waited.total_seconds())}"


def _spoken(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def lease_until(now: datetime, lease_s: float) -> datetime:
    return now + timedelta(seconds=lease_s)


def milliseconds(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds() * 1000))
