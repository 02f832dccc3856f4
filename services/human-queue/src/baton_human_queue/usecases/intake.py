"""Opening tickets from the events that ask for a person: the router's routes to people
(``route.decided``) and the AI's requests (``tool.human_requested``). The user is told:
a conversation handed to people where they stand (``handoff``), a question to a colleague
or a tool call waiting for one's approval that the AI is checking (``checking``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from baton_contracts import RouteDecided, TicketKind, ToolHumanRequested, derive_id, utc_now
from baton_conversations import ConversationStore, Thread
from baton_runtime import Entry, current_carrier

from .. import metrics
from ..domain import InvalidRequestError, check_tool_schema, optional_sla_due, sla_due
from ..followups import opening
from ..notices import Facts
from ..ports import Changed, TicketStore
from ..tickets import (
    ActionTicket,
    AiNotes,
    ApprovalTicket,
    ConversationTicket,
    EscalationTicket,
    QuestionTicket,
    ThreadTicket,
    Ticket,
)
from ._common import ATTEMPTS, QueueConfig, follow_through
from .notices import Standing, notices_for

log = logging.getLogger(__name__)


class Intake:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        conversations: ConversationStore,
        config: QueueConfig,
        clock: Callable[[], datetime] = utc_now,
        opened: Callable[[Ticket], Awaitable[None]] | None = None,
    ) -> None:
        self._tickets = tickets
        self._conversations = conversations
        self._config = config
        self._now = clock
        self._opened = opened
        self._standing = Standing(tickets=tickets, config=config)

    async def open_conversation(self, event: RouteDecided) -> None:
        """The router gave a user message to people: queue it, or add it to the thread's
        open conversation ticket."""
        thread = await self._conversations.require_thread(event.thread_id)
        fields = self._fields("conversation", event, thread, event.message_id, event.reason)
        ticket = ConversationTicket(**fields, route_strategy=event.strategy)
        await self._open(ticket, AiNotes())

    async def open_request(self, event: ToolHumanRequested) -> None:
        """The AI asks a person: a question, an approval of a draft or of a tool call (an
        action), or an escalation of the thread."""
        thread = await self._conversations.require_thread(event.thread_id)
        fields = {
            **self._fields(event.kind, event, thread, event.message_id, event.reason),
            "request_id": event.request_id,
        }
        ticket: Ticket
        if event.kind == "question":
            expires_at, fallback = self._config.question_timeout.deadline(
                fields["department"], fields["created_at"]
            )
            ticket = QuestionTicket(
                **fields,
                question=event.question,
                context=event.context,
                tool_call_id=event.tool_call_id,
                expires_at=expires_at,
                fallback=fallback,
            )
        elif event.kind == "action":
            if event.action is None or event.tool_call_id is None:
                raise InvalidRequestError("an action request needs the action and its tool call id")
            check_tool_schema(event.action.parameters)
            expires_at, fallback = self._config.action_timeout.deadline(
                fields["department"], fields["created_at"]
            )
            ticket = ActionTicket(
                **fields,
                tool_call_id=event.tool_call_id,
                action=event.action,
                expires_at=expires_at,
                fallback=fallback,
            )
        elif event.kind == "approval":
            if event.draft_message_id is None:
                raise InvalidRequestError("an approval request needs the draft's message id")
            ticket = ApprovalTicket(
                **fields,
                draft_message_id=event.draft_message_id,
                draft_text=event.draft_text,
                confidence=event.confidence,
            )
        else:
            ticket = EscalationTicket(
                **fields,
                question=event.question,
                context=event.context,
                suggestion=event.suggestion,
                confidence=event.confidence,
            )
        notes = AiNotes(
            question=event.question,
            context=event.context,
            suggestion=event.suggestion,
            confidence=event.confidence,
            request_id=event.request_id,
        )
        await self._open(ticket, notes)

    def _fields(
        self,
        kind: TicketKind,
        event: RouteDecided | ToolHumanRequested,
        thread: Thread,
        message_id: uuid.UUID,
        reason: str,
    ) -> dict[str, Any]:
        """What every new ticket has, from the event and its thread."""
        now = self._now()
        department = event.department or thread.department
        tier = event.user_tier or thread.user_tier
        priority = self._config.priority.priority(kind, tier=tier, department=department)
        hours = self._config.hours.of(department)
        return {
            "ticket_id": str(derive_id(event.event_id, "ticket")),
            "priority": priority,
            "department": department,
            "thread_id": thread.thread_id,
            "user_tier": tier,
            "user_message_id": message_id,
            "message_ids": (message_id,),
            "reason": reason,
            "source_event_id": event.event_id,
            "correlation_id": event.correlation_id,
            "trace": current_carrier(),
            "sla_due_at": sla_due(now, priority, self._config.sla_s, hours),
            "resolution_due_at": optional_sla_due(
                now, priority, self._config.resolution_sla_s, hours
            ),
            "locale": thread.metadata.get("locale"),
            "created_at": now,
            "updated_at": now,
        }

    async def _open(self, ticket: Ticket, notes: AiNotes) -> None:
        """Store ``ticket``; a conversation or escalation for a thread with one open
        already is added to that one instead, with the AI's notes."""
        for _ in range(ATTEMPTS):
            if isinstance(ticket, ThreadTicket):
                open_ticket = await self._tickets.open_for_thread(ticket.thread_id)
                if open_ticket is not None:
                    attached = await self._tickets.attach(
                        open_ticket.ticket_id,
                        ticket.user_message_id,
                        notes=notes,
                        now=ticket.created_at,
                        next_response_due=self._next_response_due(open_ticket, ticket.created_at),
                    )
                    if attached is not None:
                        metrics.MESSAGES_ATTACHED.inc()
                        return
                    continue  # resolved meanwhile: open a new one
            follow_ups = [*opening(ticket), *await self._notices(ticket)]
            if await self._tickets.add(ticket, follow_ups=follow_ups):
                metrics.TICKETS_OPENED.labels(kind=ticket.kind).inc()
                await follow_through(self._tickets, Changed(ticket, follow_ups))
                await self._hand_out(ticket)
                return
            if await self._tickets.get(ticket.ticket_id) is not None:
                return  # this event made its ticket before: a replay
        raise RuntimeError(
            f"could not queue message {ticket.user_message_id} of thread {ticket.thread_id}"
        )

    def _next_response_due(self, ticket: Ticket, now: datetime) -> datetime | None:
        """A user message on a ticket people answered before starts a wait for their next
        response (a message before any response waits for the first one)."""
        if ticket.first_response_at is None:
            return None
        hours = self._config.hours.of(ticket.department)
        return optional_sla_due(now, ticket.priority, self._config.next_response_sla_s, hours)

    async def _notices(self, ticket: Ticket) -> list[Entry]:
        """What a new ticket tells the user, stored with it: a conversation handed to people
        (``handoff``), or a question the AI asks a colleague or a call it waits for one to
        approve (``checking``). A message added to an open ticket is told nothing new."""
        now = ticket.created_at
        rules = self._config.notices
        if isinstance(ticket, ThreadTicket):
            if not rules.enabled("handoff", department=ticket.department, locale=ticket.locale):
                return []
            facts = await self._standing.facts(ticket, now)
            return notices_for(self._config, ticket, "handoff", "handoff", facts, now)
        if isinstance(ticket, QuestionTicket | ActionTicket):
            return notices_for(self._config, ticket, "checking", "checking", Facts(), now)
        return []

    async def _hand_out(self, ticket: Ticket) -> None:
        """An auto-assigned department's new ticket goes to an agent now; if this fails the
        ticket is stored, and the sweep's assignment round hands it out."""
        if self._opened is None:
            return
        try:
            await self._opened(ticket)
        except Exception:
            log.warning(
                "assignment of ticket %s left for the sweep", ticket.ticket_id, exc_info=True
            )
