"""What a ticket change leads to: the runtime outbox's entries, stored with the change.

Events are published (``publishing``). The other kinds are carried out by
:class:`FollowUps`, whose appliers the composition root registers with the outbox: a
person's reply is stored in the thread (``message``), the thread's owner changes
(``assign``), the thread remembers who resolved it (``resolution``, what a rating is
about), the claims log, the feedback and the action audit are written, a notice to the user
is stored in the thread and announced (``notice``). Each is idempotent (ids derived from the change, unique
keys), so carrying an entry out twice changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
)

from baton_contracts import (
    HumanAgent,
    HumanResponded,
    MessageSent,
    NoticeKind,
    Owner,
    TicketKind,
)
from baton_conversations import Because, ConversationStore, Message, Thread, ThreadResolution
from baton_runtime import Apply, Entry, publishing

from . import audit, metrics
from .audit import ActionRecord
from .domain import SUMMARIZED_KINDS
from .events import expired_event, lease_expired_event, opened_event
from .notes import Note
from .notices import Notice
from .tickets import ActionTicket, ApprovalTicket, Holder, QuestionTicket, ThreadTicket, Ticket

if TYPE_CHECKING:
    from .notes import NoteStore
    from .ports import ActionAuditStore, AgentStore, ClaimStore, FeedbackStore

MESSAGE = "message"
ASSIGN = "assign"
CLAIM_OPENED = "claim_opened"
CLAIM_CLOSED = "claim_closed"
FEEDBACK = "feedback"
FREE_SLOT = "free_slot"
DEPARTMENT = "department"
NOTE = "note"
RESOLUTION = "resolution"
NOTICE = "notice"
AUDIT = "action_audit"
NOTICE_PROVIDER = "baton"
"""The provider of Baton's own notices to the user, in the thread and in ``message.sent``."""

FeedbackKind = Literal[
    "approval", "rejection", "answer", "reply", "action_approval", "action_denial"
]
ClaimOutcome = Literal["released", "expired", "resolved", "reassigned", "transferred"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Sparse(_Payload):
    """Leaves out the ``SPARSE`` fields while they are None: fields only some records have
    (an action's) do not change how the others read."""

    SPARSE: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _without_unset(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if not (k in self.SPARSE and v is None)}


class ReplyMessage(_Payload):
    """A person's reply, to store in the thread with the events that announce it."""

    message_id: uuid.UUID
    thread_id: str
    text: str
    agent_name: str
    metadata: dict[str, Any]
    in_reply_to: uuid.UUID | None
    created_at: AwareDatetime
    responded: HumanResponded
    sent: MessageSent

    def to_message(self) -> Message:
        return Message(
            message_id=self.message_id,
            thread_id=self.thread_id,
            role="assistant",
            content=self.text,
            agent_name=self.agent_name,
            provider="human",
            metadata=dict(self.metadata),
            in_reply_to=self.in_reply_to,
            created_at=self.created_at,
        )


class OwnerChange(_Payload):
    """A new owner for the thread, with the ids of the ``thread.assigned`` it makes."""

    thread_id: str
    owner: Owner
    agent_id: str | None
    reason: str
    event_id: uuid.UUID
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None


class DepartmentChange(_Payload):
    """A transferred conversation's thread moves to the ticket's new department."""

    thread_id: str
    department: str | None


class ThreadResolved(_Payload):
    """A person resolved the thread's conversation: its latest resolution, which a rating
    of the thread is about."""

    thread_id: str
    ticket_id: str
    agent_id: str
    agent_name: str
    agent_department: str | None
    department: str | None
    at: AwareDatetime

    def to_resolution(self) -> ThreadResolution:
        return ThreadResolution(
            ticket_id=self.ticket_id,
            agent_id=self.agent_id,
            agent_name=self.agent_name,
            agent_department=self.agent_department,
            department=self.department,
            at=self.at,
        )


class NoticeMessage(_Payload):
    """A notice from Baton to the user (see :mod:`baton_human_queue.notices`), to store in
    the thread and announce with ``message.sent`` (``notice`` set, provider ``baton``)."""

    message_id: uuid.UUID
    event_id: uuid.UUID
    correlation_id: uuid.UUID
    causation_id: uuid.UUID | None
    thread_id: str
    ticket_id: str
    notice: NoticeKind
    text: str
    locale: str
    sender: str
    in_reply_to: uuid.UUID | None = None
    created_at: AwareDatetime

    def to_message(self) -> Message:
        return Message(
            message_id=self.message_id,
            thread_id=self.thread_id,
            role="assistant",
            content=self.text,
            agent_name=self.sender,
            provider=NOTICE_PROVIDER,
            # Shown to the user; marked so that no model takes it for the AI's own words.
            metadata={
                "system_notice": True,
                "notice": self.notice,
                "locale": self.locale,
                "ticket_id": self.ticket_id,
            },
            in_reply_to=self.in_reply_to,
            created_at=self.created_at,
        )

    def announce(self, thread: Thread) -> list[MessageSent]:
        return [
            MessageSent(
                event_id=self.event_id,
                thread_id=self.thread_id,
                correlation_id=self.correlation_id,
                causation_id=self.causation_id,
                message_id=self.message_id,
                in_reply_to=self.in_reply_to,
                text=self.text,
                user_id=thread.user_id,
                channel=thread.channel,
                agent_name=self.sender,
                provider=NOTICE_PROVIDER,
                notice=self.notice,
            )
        ]


class ClaimOpened(_Payload):
    claim_id: str
    ticket_id: str
    thread_id: str
    kind: TicketKind
    department: str | None
    agent_id: str
    agent_name: str
    ticket_created_at: AwareDatetime
    claimed_at: AwareDatetime


class ClaimClosed(_Payload):
    claim_id: str
    ended_at: AwareDatetime
    outcome: ClaimOutcome


class FreedSlot(_Payload):
    """A claim that ended: its agent's slot is given back."""

    agent_id: str
    claim_id: str


class AiOutput(_Sparse):
    """The AI output a person's feedback corrects or confirms."""

    SPARSE = frozenset({"tool_name", "arguments"})

    kind: Literal["draft", "question", "suggestion", "action"]
    text: str | None
    message_id: uuid.UUID | None = None
    request_id: uuid.UUID | None = None
    tool_call_id: str | None = None
    reason: str | None = None
    tool_name: str | None = None
    """The tool of a proposed call (kind ``action``)."""
    arguments: dict[str, Any] | None = None
    """The arguments the AI proposed (kind ``action``)."""


class Feedback(_Sparse):
    SPARSE = frozenset({"arguments", "reason"})

    feedback_id: str
    kind: FeedbackKind
    ticket_id: str
    thread_id: str
    ai_output: AiOutput
    human_text: str | None = None
    review: str | None = None
    edited: bool | None = None
    arguments: dict[str, Any] | None = None
    """The arguments a person approved a call with (``action_approval``)."""
    reason: str | None = None
    """Why a person denied a call (``action_denial``)."""
    agent: HumanAgent
    at: AwareDatetime


# ---------------------------------------------------------------- entries


def store_reply(reply: ReplyMessage) -> Entry:
    return Entry(f"{MESSAGE}:{reply.message_id}", MESSAGE, reply.model_dump_json())


def assign(
    ticket: Ticket, purpose: str, *, owner: Owner, agent_id: str | None, reason: str
) -> Entry:
    """The thread's owner change that ``purpose`` makes for ``ticket``."""
    because = ticket.because(purpose)
    change = OwnerChange(
        thread_id=ticket.thread_id,
        owner=owner,
        agent_id=agent_id,
        reason=reason[:1000],
        event_id=because.event_id,
        correlation_id=because.correlation_id,
        causation_id=because.causation_id,
    )
    return Entry(f"{ASSIGN}:{change.event_id}", ASSIGN, change.model_dump_json())


def remember_resolution(ticket: Ticket, holder: Holder, at: datetime) -> Entry:
    """The thread's latest resolution, by ``holder``: what the user's rating is about."""
    resolved = ThreadResolved(
        thread_id=ticket.thread_id,
        ticket_id=ticket.ticket_id,
        agent_id=holder.agent_id,
        agent_name=holder.name,
        agent_department=holder.department,
        department=ticket.department,
        at=at,
    )
    return Entry(f"{RESOLUTION}:{ticket.ticket_id}", RESOLUTION, resolved.model_dump_json())


def notify(
    ticket: Ticket,
    purpose: str,
    notice: Notice | None,
    *,
    sender: str,
    now: datetime,
    in_reply_to: uuid.UUID | None = None,
) -> list[Entry]:
    """The notice ``purpose`` sends about ``ticket`` (none when it is turned off): its
    message id and event id derive from the ticket and the purpose, so carrying it out
    again, or the same change made again, sends nothing twice."""
    if notice is None:
        return []
    message = NoticeMessage(
        message_id=ticket.event_id(f"notice:{purpose}"),
        event_id=ticket.event_id(f"notice:{purpose}:message.sent"),
        correlation_id=ticket.correlation_id,
        causation_id=ticket.source_event_id,
        thread_id=ticket.thread_id,
        ticket_id=ticket.ticket_id,
        notice=notice.kind,
        text=notice.text,
        locale=notice.locale,
        sender=sender,
        in_reply_to=in_reply_to,
        created_at=now,
    )
    return [Entry(f"{NOTICE}:{message.message_id}", NOTICE, message.model_dump_json())]


def open_claim(claim: ClaimOpened) -> Entry:
    return Entry(f"{CLAIM_OPENED}:{claim.claim_id}", CLAIM_OPENED, claim.model_dump_json())


def close_claim(claim_id: str, ended_at: datetime, outcome: ClaimOutcome) -> Entry:
    closed = ClaimClosed(claim_id=claim_id, ended_at=ended_at, outcome=outcome)
    return Entry(f"{CLAIM_CLOSED}:{claim_id}", CLAIM_CLOSED, closed.model_dump_json())


def free_slot(agent_id: str, claim_id: str) -> Entry:
    """Give back the holder's slot: stored with the change that ends the claim, so a crash
    between the two cannot keep the slot taken (decision 18)."""
    freed = FreedSlot(agent_id=agent_id, claim_id=claim_id)
    return Entry(f"{FREE_SLOT}:{claim_id}", FREE_SLOT, freed.model_dump_json())


def end_claim(
    ticket: Ticket, claim_id: str, ended_at: datetime, outcome: ClaimOutcome
) -> list[Entry]:
    """A claim that ended: its log entry closed, its holder's slot given back."""
    entries = [close_claim(claim_id, ended_at, outcome)]
    if ticket.holder is not None:
        entries.append(free_slot(ticket.holder.agent_id, claim_id))
    return entries


def move_thread(thread_id: str, department: str | None, purpose: str) -> Entry:
    """The thread's new department, stored with the transfer that moves its ticket."""
    change = DepartmentChange(thread_id=thread_id, department=department)
    return Entry(f"{DEPARTMENT}:{purpose}", DEPARTMENT, change.model_dump_json())


def keep_note(note: Note) -> Entry:
    """An internal note written with a change (a transfer's): stored once by its id."""
    return Entry(f"{NOTE}:{note.note_id}", NOTE, note.model_dump_json())


def record_feedback(feedback: Feedback) -> Entry:
    return Entry(f"{FEEDBACK}:{feedback.feedback_id}", FEEDBACK, feedback.model_dump_json())


def record_action(record: ActionRecord) -> Entry:
    """An entry of the action audit, kept once by its id."""
    return Entry(f"{AUDIT}:{record.record_id}", AUDIT, record.model_dump_json())


def lapse(ticket: Ticket, claim_id: str) -> list[Entry]:
    """Follow-ups of a claim whose lease ran out: the same ids whoever notices it (the
    sweep, or the next claimer)."""
    assert ticket.lease_expires_at is not None
    entries = end_claim(ticket, claim_id, ticket.lease_expires_at, "expired")
    if isinstance(ticket, ThreadTicket):
        holder = ticket.holder.name if ticket.holder else "the agent"
        entries.append(
            assign(
                ticket,
                f"expire:{claim_id}",
                owner="human",
                agent_id=None,
                reason=f"the claim of {holder} on ticket {ticket.ticket_id} expired",
            )
        )
    entries.append(publishing(lease_expired_event(ticket, claim_id=claim_id)))
    return entries


def opening(ticket: Ticket) -> list[Entry]:
    """Follow-ups of a new ticket, stored with it: ``ticket.opened`` for the kinds the AI
    summarises (not a message attached to an open ticket: that is no new ticket), and for
    an action the audit's record of the proposal."""
    entries = [publishing(opened_event(ticket))] if ticket.kind in SUMMARIZED_KINDS else []
    if isinstance(ticket, ActionTicket):
        entries.append(record_action(audit.proposed(ticket)))
    return entries


def expiry(ticket: Ticket, now: datetime, reason: str) -> list[Entry]:
    """Follow-ups of a ticket that expired unanswered: its claim ends (the holder's slot
    given back), and ``ticket.expired`` tells the AI to go on by the fallback."""
    entries: list[Entry] = []
    if ticket.claim_id is not None:
        lease = ticket.lease_expires_at
        ended = min(now, lease) if lease is not None else now
        entries += end_claim(ticket, ticket.claim_id, ended, "expired")
    if isinstance(ticket, ActionTicket):
        entries.append(record_action(audit.expired(ticket, now, reason)))
    entries.append(publishing(expired_event(ticket, reason=reason)))
    return entries


def feedback_of(
    ticket: ThreadTicket | QuestionTicket | ApprovalTicket | ActionTicket,
    kind: FeedbackKind,
    agent: HumanAgent,
    now: datetime,
    *,
    purpose: str | None = None,
    **human: object,
) -> Feedback:
    """A person's feedback on the AI output ``ticket`` carries."""
    if isinstance(ticket, ApprovalTicket):
        output = AiOutput(
            kind="draft",
            text=ticket.draft_text,
            message_id=ticket.draft_message_id,
            request_id=ticket.request_id,
            reason=ticket.reason,
        )
    elif isinstance(ticket, ActionTicket):
        output = AiOutput(
            kind="action",
            text=None,
            request_id=ticket.request_id,
            tool_call_id=ticket.tool_call_id,
            reason=ticket.reason,
            tool_name=ticket.action.tool_name,
            arguments=ticket.action.arguments,
        )
    elif isinstance(ticket, QuestionTicket):
        output = AiOutput(
            kind="question",
            text=ticket.question,
            request_id=ticket.request_id,
            tool_call_id=ticket.tool_call_id,
            reason=ticket.reason,
        )
    else:
        output = AiOutput(
            kind="suggestion",
            text=ticket.suggestion,
            request_id=ticket.request_id,
            reason=ticket.reason,
        )
    return Feedback.model_validate(
        {
            "feedback_id": str(ticket.event_id(f"feedback:{purpose or kind}")),
            "kind": kind,
            "ticket_id": ticket.ticket_id,
            "thread_id": ticket.thread_id,
            "ai_output": output,
            "agent": agent,
            "at": now,
            **human,
        }
    )


# ---------------------------------------------------------------- carrying them out


class FollowUps:
    """Carries out the follow-ups that are not events."""

    def __init__(
        self,
        *,
        conversations: ConversationStore,
        claims: ClaimStore,
        feedback: FeedbackStore,
        agents: AgentStore,
        notes: NoteStore | None = None,
        audit: ActionAuditStore | None = None,
    ) -> None:
        self._conversations = conversations
        self._claims = claims
        self._feedback = feedback
        self._agents = agents
        self._notes = notes
        self._audit = audit

    def kinds(self) -> dict[str, Apply]:
        """The appliers by entry kind, for ``Outbox(publisher, kinds=...)``."""
        return {
            MESSAGE: self.store_reply,
            ASSIGN: self.assign,
            CLAIM_OPENED: self.claim_opened,
            CLAIM_CLOSED: self.claim_closed,
            FEEDBACK: self.feedback,
            FREE_SLOT: self.free_slot,
            DEPARTMENT: self.move_thread,
            NOTE: self.keep_note,
            RESOLUTION: self.remember_resolution,
            NOTICE: self.notice,
            AUDIT: self.record_action,
        }

    async def store_reply(self, data: str) -> None:
        """Stored once under its id; a repeat finishes announcing it if that was cut short."""
        reply = ReplyMessage.model_validate_json(data)
        await self._conversations.append(reply.to_message(), announce=[reply.responded, reply.sent])

    async def assign(self, data: str) -> None:
        """The conversation core changes the owner once per event id, and announces it."""
        change = OwnerChange.model_validate_json(data)
        thread = await self._conversations.require_thread(change.thread_id)
        await self._conversations.assign(
            thread,
            owner=change.owner,
            agent_id=change.agent_id,
            reason=change.reason,
            because=Because(change.event_id, change.correlation_id, change.causation_id),
        )

    async def notice(self, data: str) -> None:
        """Stored once under its id, like a reply; a repeat finishes announcing it."""
        notice = NoticeMessage.model_validate_json(data)
        stored = await self._conversations.append(notice.to_message(), announce=notice.announce)
        if stored.created:
            metrics.NOTICES.labels(notice=notice.notice).inc()

    async def claim_opened(self, data: str) -> None:
        await self._claims.opened(ClaimOpened.model_validate_json(data))

    async def claim_closed(self, data: str) -> None:
        await self._claims.closed(ClaimClosed.model_validate_json(data))

    async def feedback(self, data: str) -> None:
        await self._feedback.add(Feedback.model_validate_json(data))

    async def free_slot(self, data: str) -> None:
        freed = FreedSlot.model_validate_json(data)
        await self._agents.free_slot(freed.agent_id, freed.claim_id)

    async def move_thread(self, data: str) -> None:
        change = DepartmentChange.model_validate_json(data)
        await self._conversations.set_department(change.thread_id, change.department)

    async def keep_note(self, data: str) -> None:
        if self._notes is None:
            raise RuntimeError("a note follow-up needs the note store (FollowUps(notes=...))")
        await self._notes.add(Note.model_validate_json(data))

    async def record_action(self, data: str) -> None:
        if self._audit is None:
            raise RuntimeError("an audit follow-up needs the audit store (FollowUps(audit=...))")
        await self._audit.add(ActionRecord.model_validate_json(data))

    async def remember_resolution(self, data: str) -> None:
        resolved = ThreadResolved.model_validate_json(data)
        await self._conversations.record_resolution(resolved.thread_id, resolved.to_resolution())
