"""The events Baton's services exchange over Kafka.

Each class is one event type; its ``type`` literal doubles as the name of the topic it
travels on (see :mod:`baton_contracts.topics`).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field

from ._envelope import Event, Model

MAX_TEXT_LENGTH = 16_000
"""Upper bound on any message text in an event; services may enforce a lower one."""

Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH)]
Metadata = Annotated[
    dict[str, str],
    Field(max_length=32, description="Free-form string attributes from the gateway."),
]
Handler = Literal["ai", "human"]
Owner = Literal["ai", "human"]
RouteStrategy = Literal[
    "owner_flag", "rule", "classifier", "default", "rate_limited", "out_of_hours"
]
HumanRequestKind = Literal["question", "escalation", "approval", "action"]
TicketKind = Literal["conversation", "question", "escalation", "approval", "action"]
ActionDecision = Literal["approved", "denied"]
ActionOutcome = Literal["succeeded", "failed"]
TicketStatus = Literal["pending", "assigned", "resolved"]
AgentPresence = Literal["online", "away", "offline"]
NoticeKind = Literal["handoff", "checking", "agent_joined", "handback", "resolved", "rating"]
SlaKind = Literal["first_response", "next_response", "resolution"]
Mood = Literal["positive", "neutral", "frustrated", "angry"]
Fallback = Literal["ai", "human"]


class HumanAgent(Model):
    """A human support agent, as named in events."""

    agent_id: str = Field(min_length=1, max_length=128, description="Stable id of the agent.")
    name: str = Field(min_length=1, max_length=200, description="Display name shown to users.")
    department: str | None = Field(
        default=None, max_length=100, description="Department the agent acted for."
    )


class MessageSubmitted(Event):
    """A gateway hands Baton a raw user message (the Kafka twin of the HTTP API)."""

    type: Literal["message.submitted"] = Field(
        default="message.submitted", description="Event type: always `message.submitted`."
    )
    text: Text = Field(description="What the user wrote.")
    user_id: str | None = Field(
        default=None, max_length=200, description="The gateway's id for the user."
    )
    idempotency_key: str | None = Field(
        default=None,
        max_length=200,
        description="Gateway-chosen key; resubmitting with the same key stores one message.",
    )
    respond: bool = Field(
        default=True, description="False stores the message without asking anyone to answer."
    )
    metadata: Metadata = Field(default_factory=dict)


class MessageReceived(Event):
    """Ingest validated, de-duplicated and stored a user message."""

    type: Literal["message.received"] = Field(
        default="message.received", description="Event type: always `message.received`."
    )
    message_id: uuid.UUID = Field(description="Id of the stored user message.")
    text: Text = Field(description="What the user wrote.")
    user_id: str | None = Field(default=None, max_length=200, description="The user's id.")
    channel: str | None = Field(
        default=None, max_length=50, description="Gateway channel, e.g. `web` or `whatsapp`."
    )
    department: str | None = Field(
        default=None, max_length=100, description="Department the thread belongs to."
    )
    user_tier: str | None = Field(
        default=None,
        max_length=50,
        description="The user's tier (e.g. `vip`), from thread metadata.",
    )
    respond: bool = Field(default=True, description="False: store only; nobody answers.")


class RouteDecided(Event):
    """The router chose who answers a user message."""

    type: Literal["route.decided"] = Field(
        default="route.decided", description="Event type: always `route.decided`."
    )
    message_id: uuid.UUID = Field(description="The user message being routed.")
    handler: Handler = Field(description="Who answers: the AI or the human queue.")
    strategy: RouteStrategy = Field(description="Which routing strategy decided.")
    reason: str = Field(max_length=1000, description="Human-readable reason for the decision.")
    confidence: float | None = Field(
        default=None, ge=0, le=1, description="Classifier confidence, when a classifier decided."
    )
    text: Text = Field(description="The user message text, so consumers need not look it up.")
    department: str | None = Field(default=None, max_length=100, description="Thread department.")
    user_tier: str | None = Field(default=None, max_length=50, description="The user's tier.")


class ToolAction(Model):
    """A call of a configured tool the AI proposes, waiting for a person's approval."""

    tool_name: str = Field(min_length=1, max_length=200, description="The tool's name.")
    description: str = Field(max_length=4000, description="What the tool does, as the AI reads it.")
    parameters: dict[str, Any] = Field(
        description="The JSON Schema the arguments must satisfy, an approver's edits included."
    )
    arguments: dict[str, Any] = Field(description="The arguments the AI proposes.")
    approval_reason: str = Field(
        max_length=1000,
        description="Why the call needs approval: `always`, or the condition the arguments met.",
    )


class ToolHumanRequested(Event):
    """The AI asks a person: a question it cannot answer, an escalation, a draft approval, or
    the approval of a tool call (an action)."""

    type: Literal["tool.human_requested"] = Field(
        default="tool.human_requested", description="Event type: always `tool.human_requested`."
    )
    request_id: uuid.UUID = Field(description="Id of this request; the answer refers to it.")
    kind: HumanRequestKind = Field(description="What the AI needs from a person.")
    message_id: uuid.UUID = Field(description="The user message the AI was answering.")
    tool_call_id: str | None = Field(
        default=None,
        max_length=200,
        description="The model's tool call id for `ask_human` or an action; the answer "
        "(or the action's outcome) becomes its result.",
    )
    question: str | None = Field(
        default=None, max_length=4000, description="The question for the person (kind=question)."
    )
    context: str | None = Field(
        default=None, max_length=8000, description="What the AI knows that helps the person."
    )
    reason: str = Field(max_length=1000, description="Why a person is needed.")
    suggestion: str | None = Field(
        default=None,
        max_length=16_000,
        description="The AI's suggested reply, when it has one (e.g. a low-confidence answer).",
    )
    confidence: float | None = Field(
        default=None, ge=0, le=1, description="The AI's confidence in its suggestion."
    )
    draft_message_id: uuid.UUID | None = Field(
        default=None, description="The stored draft awaiting approval (kind=approval)."
    )
    draft_text: str | None = Field(
        default=None, max_length=16_000, description="Text of the draft (kind=approval)."
    )
    action: ToolAction | None = Field(
        default=None, description="The tool call that waits for approval (kind=action)."
    )
    department: str | None = Field(default=None, max_length=100, description="Thread department.")
    user_tier: str | None = Field(default=None, max_length=50, description="The user's tier.")


class HumanResponded(Event):
    """A person replied in the thread, or answered the AI's question."""

    type: Literal["human.responded"] = Field(
        default="human.responded", description="Event type: always `human.responded`."
    )
    kind: Literal["reply", "answer"] = Field(
        description="`reply`: written to the user; `answer`: the result of an `ask_human` call."
    )
    ticket_id: str = Field(max_length=200, description="The queue ticket this response closes.")
    message_id: uuid.UUID = Field(description="Id of the stored message holding the response.")
    text: Text = Field(description="What the person wrote.")
    agent: HumanAgent = Field(description="Who responded.")
    request_id: uuid.UUID | None = Field(
        default=None, description="The `tool.human_requested` request this answers."
    )
    tool_call_id: str | None = Field(
        default=None, max_length=200, description="The tool call this answers (kind=answer)."
    )
    response_time_ms: int | None = Field(
        default=None, ge=0, description="Time from the ticket's creation to this response."
    )


class DraftApproved(Event):
    """A person approved an AI draft, possibly after editing it."""

    type: Literal["draft.approved"] = Field(
        default="draft.approved", description="Event type: always `draft.approved`."
    )
    draft_message_id: uuid.UUID = Field(description="The draft message that was reviewed.")
    ticket_id: str = Field(max_length=200, description="The approval ticket.")
    text: Text = Field(description="The approved text; send exactly this.")
    edited: bool = Field(description="True when the person changed the draft's text.")
    agent: HumanAgent = Field(description="Who approved.")


class DraftRejected(Event):
    """A person rejected an AI draft."""

    type: Literal["draft.rejected"] = Field(
        default="draft.rejected", description="Event type: always `draft.rejected`."
    )
    draft_message_id: uuid.UUID = Field(description="The draft message that was reviewed.")
    ticket_id: str = Field(max_length=200, description="The approval ticket.")
    review: str = Field(min_length=1, max_length=4000, description="Why the draft was rejected.")
    agent: HumanAgent = Field(description="Who rejected.")


class ActionDecided(Event):
    """A person approved a tool call the AI proposed, possibly with edited arguments, or
    denied it."""

    type: Literal["action.decided"] = Field(
        default="action.decided", description="Event type: always `action.decided`."
    )
    ticket_id: str = Field(max_length=200, description="The action ticket.")
    request_id: uuid.UUID = Field(description="The `tool.human_requested` request decided.")
    tool_call_id: str = Field(max_length=200, description="The model's tool call decided.")
    tool_name: str = Field(max_length=200, description="The tool the call is of.")
    decision: ActionDecision = Field(description="`approved`: run it; `denied`: do not.")
    arguments: dict[str, Any] | None = Field(
        default=None, description="The arguments to run the call with (decision=approved)."
    )
    edited: bool = Field(
        default=False, description="True when the person changed the proposed arguments."
    )
    reason: str | None = Field(
        default=None, max_length=4000, description="Why the call was denied (decision=denied)."
    )
    agent: HumanAgent = Field(description="Who decided.")


class ActionExecuted(Event):
    """A configured tool ran: a call the AI made on its own, or one a person approved."""

    type: Literal["action.executed"] = Field(
        default="action.executed", description="Event type: always `action.executed`."
    )
    tool_name: str = Field(max_length=200, description="The tool that ran.")
    tool_call_id: str = Field(max_length=200, description="The model's tool call.")
    message_id: uuid.UUID = Field(description="The user message the AI was answering.")
    request_id: uuid.UUID | None = Field(
        default=None, description="The approval request, when the call needed approval."
    )
    ticket_id: str | None = Field(
        default=None, max_length=200, description="The action ticket that approved it, if any."
    )
    idempotency_key: str = Field(
        max_length=200, description="Sent as `Idempotency-Key`; the same for every attempt."
    )
    arguments: dict[str, Any] = Field(description="The arguments the call ran with.")
    outcome: ActionOutcome = Field(description="Whether the tool reported success.")
    status_code: int | None = Field(
        default=None, description="The HTTP status of the tool's answer, for an HTTP tool."
    )
    error: str | None = Field(
        default=None, max_length=1000, description="What went wrong (outcome=failed)."
    )
    duration_ms: int = Field(ge=0, description="How long the call took.")
    resent: bool = Field(
        default=False,
        description="True when an earlier attempt may have reached the tool (a crash "
        "between the call and its record): the call was sent again with the same key.",
    )


class MessageSent(Event):
    """A message became visible to the end user; gateways deliver it.

    Delivery is at least once: after a crash the same event can arrive again, with the same
    `event_id` and `message_id`. A gateway shows a `message_id` once."""

    type: Literal["message.sent"] = Field(
        default="message.sent", description="Event type: always `message.sent`."
    )
    message_id: uuid.UUID = Field(description="Id of the stored outbound message.")
    in_reply_to: uuid.UUID | None = Field(
        default=None, description="The user message this answers, when there is one."
    )
    text: Text = Field(description="The text to show the user.")
    user_id: str | None = Field(default=None, max_length=200, description="The recipient.")
    channel: str | None = Field(default=None, max_length=50, description="Where to deliver it.")
    agent_name: str = Field(max_length=200, description="Name the message is signed with.")
    provider: str = Field(
        max_length=50, description="Who produced the text: `openai`, `human`, ..."
    )
    notice: NoticeKind | None = Field(
        default=None,
        description="Set on Baton's own notices to the user (provider `baton`): which one. "
        "`handoff`: people take over; `checking`: the AI asks a colleague; `agent_joined`; "
        "`handback`: the AI answers again; `resolved`; `rating`: a request for a 1-5 rating.",
    )


class MessageDelta(Event):
    """A piece of a reply the AI is still writing, for gateways that show replies as they
    are written. The pieces of one reply share its `message_id` and count up from
    `sequence` 0; the reply ends with `message.sent` under the same `message_id` carrying
    the whole text, which is what counts. A delta may arrive twice, or the pieces of an
    interrupted attempt may be followed by a new attempt's from 0: show the latest
    attempt's pieces in order, and replace them with `message.sent`'s text."""

    type: Literal["message.delta"] = Field(
        default="message.delta", description="Event type: always `message.delta`."
    )
    message_id: uuid.UUID = Field(description="Id the whole reply will have in `message.sent`.")
    in_reply_to: uuid.UUID | None = Field(
        default=None, description="The user message this answers, when there is one."
    )
    sequence: int = Field(ge=0, description="Position of this piece in the reply, from 0.")
    text: Text = Field(description="The piece of text, to append to the ones before it.")
    user_id: str | None = Field(default=None, max_length=200, description="The recipient.")
    channel: str | None = Field(default=None, max_length=50, description="Where to deliver it.")
    agent_name: str = Field(max_length=200, description="Name the reply is signed with.")


class TicketSummary(Model):
    """The AI's short account of a conversation for the person who picks up its ticket."""

    issue: str = Field(min_length=1, max_length=1000, description="The customer's issue.")
    tried: str = Field(
        max_length=2000, description="What was tried or answered so far; empty when nothing."
    )
    mood: Mood = Field(description="The customer's mood, as the conversation shows it.")


class TicketOpened(Event):
    """A ticket entered the human queue (a user message added to an open ticket is not a
    new one)."""

    type: Literal["ticket.opened"] = Field(
        default="ticket.opened", description="Event type: always `ticket.opened`."
    )
    ticket_id: str = Field(max_length=200, description="The new ticket.")
    kind: TicketKind = Field(description="What the ticket asks of a person.")
    message_id: uuid.UUID = Field(description="The user message that opened it.")
    priority: int = Field(description="The ticket's priority; higher is served first.")
    department: str | None = Field(default=None, max_length=100, description="Ticket department.")
    reason: str = Field(max_length=1000, description="Why a person is needed.")


class TicketSummarized(Event):
    """The AI summarised a ticket's conversation for the agent."""

    type: Literal["ticket.summarized"] = Field(
        default="ticket.summarized", description="Event type: always `ticket.summarized`."
    )
    ticket_id: str = Field(max_length=200, description="The ticket summarised.")
    summary: TicketSummary = Field(description="The summary.")


class TicketExpired(Event):
    """A person did not answer the AI's request in time: the ticket is closed, and the
    AI's turn ends by the configured fallback."""

    type: Literal["ticket.expired"] = Field(
        default="ticket.expired", description="Event type: always `ticket.expired`."
    )
    ticket_id: str = Field(max_length=200, description="The ticket that expired.")
    kind: TicketKind = Field(description="What the ticket asked of a person.")
    request_id: uuid.UUID | None = Field(
        default=None, description="The `tool.human_requested` request that went unanswered."
    )
    tool_call_id: str | None = Field(
        default=None, max_length=200, description="The tool call that waited for the answer."
    )
    message_id: uuid.UUID = Field(description="The user message the AI was answering.")
    reason: str = Field(max_length=1000, description="Why the ticket expired, in words.")
    fallback: Fallback = Field(
        description="`ai`: the AI continues without the answer (an action: as denied, "
        "with reason `expired`); `human`: people take the thread."
    )


class ThreadRated(Event):
    """A user rated how a resolved conversation went, from 1 to 5."""

    type: Literal["thread.rated"] = Field(
        default="thread.rated", description="Event type: always `thread.rated`."
    )
    score: int = Field(ge=1, le=5, description="The rating: 1 (bad) to 5 (very good).")
    comment: str | None = Field(default=None, max_length=2000, description="The user's words.")
    resolved_by: Handler = Field(
        description="`human`: a person resolved the conversation; `ai`: the AI alone."
    )
    ticket_id: str | None = Field(
        default=None, max_length=200, description="The resolved ticket rated (resolved_by=human)."
    )
    agent: HumanAgent | None = Field(
        default=None, description="The agent who resolved it (resolved_by=human)."
    )
    department: str | None = Field(default=None, max_length=100, description="Thread department.")
    via: Literal["api", "text"] = Field(
        description="`api`: the gateway's rating route; `text`: a reply such as `5` to the prompt."
    )


class ThreadAssigned(Event):
    """Ownership of a thread changed: the audit trail of who answers it."""

    type: Literal["thread.assigned"] = Field(
        default="thread.assigned", description="Event type: always `thread.assigned`."
    )
    owner: Owner = Field(description="The new owner: the AI or a human.")
    previous_owner: Owner | None = Field(default=None, description="The owner before.")
    agent_id: str | None = Field(
        default=None, max_length=128, description="The human agent now holding the thread."
    )
    reason: str = Field(max_length=1000, description="Why ownership changed.")


class TicketLeaseExpired(Event):
    """A claim on a queue ticket lapsed without activity; the ticket is back in the queue."""

    type: Literal["ticket.lease_expired"] = Field(
        default="ticket.lease_expired", description="Event type: always `ticket.lease_expired`."
    )
    ticket_id: str = Field(max_length=200, description="The ticket whose claim lapsed.")
    kind: TicketKind = Field(description="What the ticket asks of a person.")
    agent: HumanAgent = Field(description="The agent whose claim lapsed.")
    claimed_at: AwareDatetime = Field(description="When that agent claimed the ticket.")
    lease_expired_at: AwareDatetime = Field(
        description="When the claim's lease ran out (the last activity plus the lease length)."
    )
    department: str | None = Field(default=None, max_length=100, description="Ticket department.")


class TicketSlaBreached(Event):
    """A queue ticket passed its SLA due time without a person responding."""

    type: Literal["ticket.sla_breached"] = Field(
        default="ticket.sla_breached", description="Event type: always `ticket.sla_breached`."
    )
    ticket_id: str = Field(max_length=200, description="The ticket that breached its SLA.")
    kind: TicketKind = Field(description="What the ticket asks of a person.")
    status: TicketStatus = Field(description="The ticket's status when the breach was noticed.")
    sla: SlaKind = Field(
        default="first_response",
        description="Which clock ran out: the first response, the next response to a waiting "
        "user, or the resolution.",
    )
    priority: int = Field(description="The ticket's priority after the breach; higher first.")
    priority_raised_by: int = Field(
        default=0, ge=0, description="How much the breach raised the ticket's priority."
    )
    department: str | None = Field(default=None, max_length=100, description="Ticket department.")
    created_at: AwareDatetime = Field(description="When the ticket was opened.")
    sla_due_at: AwareDatetime = Field(description="When the clock that ran out was due.")
    agent: HumanAgent | None = Field(
        default=None, description="The agent holding the ticket at the time, if any."
    )


class AgentStatusChanged(Event):
    """A human agent's presence changed: online, away or offline. The thread id is
    ``agent:<agent_id>``, so one agent's changes stay in order."""

    type: Literal["agent.status_changed"] = Field(
        default="agent.status_changed", description="Event type: always `agent.status_changed`."
    )
    agent_id: str = Field(max_length=128, description="The agent whose presence changed.")
    status: AgentPresence = Field(description="The agent's presence now.")
    previous_status: AgentPresence = Field(description="Its presence before.")
    reason: Literal["set", "idle", "active", "deactivated"] = Field(
        description="`set`: the agent set it; `idle`: silent too long, so away; `active`: "
        "a request after that silence; `deactivated`: an admin deactivated the agent."
    )
    departments: list[str] = Field(max_length=50, description="The departments the agent serves.")


EVENT_TYPES: tuple[type[Event], ...] = (
    MessageSubmitted,
    MessageReceived,
    RouteDecided,
    ToolHumanRequested,
    HumanResponded,
    DraftApproved,
    DraftRejected,
    ActionDecided,
    ActionExecuted,
    MessageDelta,
    MessageSent,
    ThreadAssigned,
    TicketOpened,
    TicketSummarized,
    TicketExpired,
    TicketLeaseExpired,
    TicketSlaBreached,
    ThreadRated,
    AgentStatusChanged,
)
"""Every event type, in pipeline order."""
