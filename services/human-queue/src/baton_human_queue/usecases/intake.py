"""Opening tickets from the events that ask for a person: the router's routes to people
(``route.decided``) and the AI's requests (``tool.human_requested``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from baton_contracts import RouteDecided, TicketKind, ToolHumanRequested, derive_id, utc_now
from baton_conversations import ConversationStore, Thread

from .. import metrics
from ..domain import InvalidRequestError, sla_due
from ..ports import TicketStore
from ..tickets import (
    AiNotes,
    ApprovalTicket,
    ConversationTicket,
    EscalationTicket,
    QuestionTicket,
    ThreadTicket,
    Ticket,
)
from ._common import ATTEMPTS, QueueConfig

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

    async def open_conversation(self, event: RouteDecided) -> None:
        """The router gave a user message to people: queue it, or add it to the thread's
        open conversation ticket."""
        thread = await self._conversations.require_thread(event.thread_id)
        fields = self._fields("conversation", event, thread, event.message_id, event.reason)
        ticket = ConversationTicket(**fields, route_strategy=event.strategy)
        await self._open(ticket, AiNotes())

    async def open_request(self, event: ToolHumanRequested) -> None:
        """The AI asks a person: a question, an approval, or an escalation of the thread."""
        thread = await self._conversations.require_thread(event.thread_id)
        fields = {
            **self._fields(event.kind, event, thread, event.message_id, event.reason),
            "request_id": event.request_id,
        }
        ticket: Ticket
        if event.kind == "question":
            ticket = QuestionTicket(
                **fields,
                question=event.question,
                context=event.context,
                tool_call_id=event.tool_call_id,
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
            "sla_due_at": sla_due(now, priority, self._config.sla_s),
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
                    )
                    if attached is not None:
                        metrics.MESSAGES_ATTACHED.inc()
                        return
                    continue  # resolved meanwhile: open a new one
            if await self._tickets.add(ticket):
                metrics.TICKETS_OPENED.labels(kind=ticket.kind).inc()
                await self._hand_out(ticket)
                return
            if await self._tickets.get(ticket.ticket_id) is not None:
                return  # this event made its ticket before: a replay
        raise RuntimeError(
            f"could not queue message {ticket.user_message_id} of thread {ticket.thread_id}"
        )

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
