"""What the holder of a ticket does with it: reply in the thread, answer the AI's question,
approve or reject its draft, approve (perhaps edited) or deny a tool call it proposes,
resolve the conversation (handing it back, or not)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from baton_contracts import NoticeKind, Owner, derive_id, utc_now
from baton_conversations import ConversationStore
from baton_runtime import Entry, link_to, publishing

from .. import audit, metrics
from ..domain import (
    MAX_REVIEW_LENGTH,
    Agent,
    answered_message,
    approved_arguments,
    approved_text,
    check_holder,
    check_kind,
    check_text,
    lease_until,
    milliseconds,
    repeated_resolution,
    ticket_for,
)
from ..events import (
    action_approved_event,
    action_denied_event,
    answer_event,
    approved_event,
    rejected_event,
    reply_events,
)
from ..followups import (
    ReplyMessage,
    assign,
    end_claim,
    feedback_of,
    record_action,
    record_feedback,
    remember_resolution,
    store_reply,
)
from ..notices import Facts
from ..ports import TicketStore
from ..tickets import (
    Action,
    ActionTicket,
    ApprovalTicket,
    Handback,
    Holder,
    QuestionTicket,
    Resolution,
    ThreadTicket,
    Ticket,
    TicketBase,
)
from ._common import ATTEMPTS, QueueConfig, follow_through, keeps_changing, visible
from .claims import Freed, tell
from .notices import notices_for

log = logging.getLogger(__name__)

FollowUps = Callable[[Ticket, Holder, datetime], list[Entry]]
"""The follow-ups of resolving a ticket with an action, from the ticket and its holder."""


@dataclass(frozen=True)
class Reply:
    ticket: Ticket
    message_id: uuid.UUID


class HolderActions:
    def __init__(
        self,
        *,
        tickets: TicketStore,
        conversations: ConversationStore,
        config: QueueConfig,
        clock: Callable[[], datetime] = utc_now,
        freed: Freed | None = None,
    ) -> None:
        self._tickets = tickets
        self._conversations = conversations
        self._config = config
        self._now = clock
        self._freed = freed

    async def reply(
        self,
        agent: Agent,
        ticket_id: str,
        text: str,
        *,
        idempotency_key: str | None,
        in_reply_to: uuid.UUID | None = None,
    ) -> Reply:
        """Write to the user in the thread, as the agent, under the agent's name. With an
        idempotency key, the same request again finds its reply and sends nothing.

        The reply answers ``in_reply_to``, one of the ticket's user messages, or else the
        latest one when the reply is written (which may have arrived after the agent read
        the ticket)."""
        check_text(text, max_length=self._config.max_text_length)
        fallback_id = uuid.uuid4()
        for _ in range(ATTEMPTS):
            ticket = await visible(self._tickets, agent, ticket_id)
            conversation = ticket_for(ticket, "reply", ThreadTicket)
            answers = answered_message(conversation, in_reply_to)
            message_id = fallback_id
            if idempotency_key is not None:
                message_id = derive_id(
                    uuid.UUID(ticket.ticket_id), f"reply:{agent.agent_id}:{idempotency_key}"
                )
            if message_id in conversation.replies:
                return Reply(ticket, message_id)
            now = self._now()
            holder, claim_id = check_holder(agent, ticket, now)
            changed = await self._tickets.reply(
                ticket_id,
                claim_id=claim_id,
                reply_id=message_id,
                until=lease_until(now, self._config.lease_s),
                now=now,
                follow_ups=await self._reply_follow_ups(
                    conversation, holder, message_id, text, now, answers
                ),
            )
            if changed is not None:
                link_to(ticket.trace)  # the request links to the trace that opened the ticket
                metrics.responded(ticket, now)
                metrics.ACTIONS.labels(action="reply").inc()
                replied = await follow_through(self._tickets, changed)
                await self._count_reply(ticket, answers)
                return Reply(replied, message_id)
        raise keeps_changing(ticket_id)

    async def _reply_follow_ups(
        self,
        ticket: ThreadTicket,
        holder: Holder,
        message_id: uuid.UUID,
        text: str,
        now: datetime,
        answers: uuid.UUID,
    ) -> list[Entry]:
        thread = await self._conversations.require_thread(ticket.thread_id)
        human = holder.as_agent()
        waited = milliseconds(ticket.created_at, now)
        responded, sent = reply_events(
            ticket,
            message_id=message_id,
            text=text,
            agent=human,
            thread=thread,
            response_time_ms=waited,
            in_reply_to=answers,
        )
        reply = ReplyMessage(
            message_id=message_id,
            thread_id=ticket.thread_id,
            text=text,
            agent_name=human.name,
            metadata={
                "provider_metadata": {
                    "human": {**human.model_dump(), "response_time_ms": waited},
                },
                "ticket_id": ticket.ticket_id,
            },
            in_reply_to=answers,
            created_at=now,
            responded=responded,
            sent=sent,
        )
        follow_ups = [store_reply(reply)]
        if ticket.suggestion:
            feedback = feedback_of(
                ticket, "reply", human, now, purpose=f"reply:{message_id}", human_text=text
            )
            follow_ups.append(record_feedback(feedback))
        return follow_ups

    async def _count_reply(self, ticket: TicketBase, answers: uuid.UUID) -> None:
        """Count the reply with the AI's, its latency from the user message it answers."""
        try:
            asked = await self._conversations.get_message(answers)
        except Exception:
            # The reply is stored and on its way; a failed lookup only costs one sample.
            log.warning("no latency sample for a reply on ticket %s", ticket.ticket_id)
            asked = None
        metrics.human_reply_sent(user_message_at=asked.created_at if asked else None)

    async def answer(self, agent: Agent, ticket_id: str, text: str) -> Ticket:
        """Answer the AI's question; the AI continues its turn with the answer."""
        check_text(text, max_length=self._config.max_text_length)

        def follow_ups(ticket: Ticket, holder: Holder, now: datetime) -> list[Entry]:
            question = ticket_for(ticket, "answer", QuestionTicket)
            human = holder.as_agent()
            event = answer_event(
                question,
                text=text,
                agent=human,
                response_time_ms=milliseconds(ticket.created_at, now),
            )
            feedback = feedback_of(ticket, "answer", human, now, human_text=text)
            return [record_feedback(feedback), publishing(event)]

        return await self._resolve(agent, ticket_id, "answer", follow_ups)

    async def approve(self, agent: Agent, ticket_id: str, text: str | None) -> Ticket:
        """Approve the AI's draft, as written or with the agent's edit."""
        if text is not None:
            check_text(text, max_length=self._config.max_text_length)

        def follow_ups(ticket: Ticket, holder: Holder, now: datetime) -> list[Entry]:
            draft = ticket_for(ticket, "approve", ApprovalTicket)
            final, edited = approved_text(draft.draft_text, text)
            human = holder.as_agent()
            event = approved_event(draft, text=final, edited=edited, agent=human)
            feedback = feedback_of(ticket, "approval", human, now, human_text=final, edited=edited)
            return [record_feedback(feedback), publishing(event)]

        return await self._resolve(agent, ticket_id, "approve", follow_ups)

    async def reject(self, agent: Agent, ticket_id: str, review: str) -> Ticket:
        """Reject the AI's draft; the AI follows its rejection fallback."""
        check_text(review, max_length=MAX_REVIEW_LENGTH, what="review")

        def follow_ups(ticket: Ticket, holder: Holder, now: datetime) -> list[Entry]:
            draft = ticket_for(ticket, "reject", ApprovalTicket)
            human = holder.as_agent()
            event = rejected_event(draft, review=review, agent=human)
            feedback = feedback_of(ticket, "rejection", human, now, review=review)
            return [record_feedback(feedback), publishing(event)]

        return await self._resolve(agent, ticket_id, "reject", follow_ups)

    async def approve_action(
        self, agent: Agent, ticket_id: str, arguments: dict[str, Any] | None
    ) -> Ticket:
        """Let the AI's proposed tool call run, as proposed (``arguments`` None) or with the
        agent's edited arguments, which the tool's JSON Schema must accept."""

        def follow_ups(ticket: Ticket, holder: Holder, now: datetime) -> list[Entry]:
            proposal = ticket_for(ticket, "approve_action", ActionTicket)
            action = proposal.action
            final, edited = approved_arguments(action.parameters, action.arguments, arguments)
            human = holder.as_agent()
            event = action_approved_event(proposal, arguments=final, edited=edited, agent=human)
            feedback = feedback_of(
                proposal, "action_approval", human, now, arguments=final, edited=edited
            )
            records = audit.approved(proposal, human, now, final, edited)
            return [
                record_feedback(feedback),
                *(record_action(r) for r in records),
                publishing(event),
            ]

        return await self._resolve(agent, ticket_id, "approve_action", follow_ups)

    async def deny_action(self, agent: Agent, ticket_id: str, reason: str) -> Ticket:
        """Refuse the AI's proposed tool call; the AI learns why and goes on without it."""
        check_text(reason, max_length=MAX_REVIEW_LENGTH, what="reason")

        def follow_ups(ticket: Ticket, holder: Holder, now: datetime) -> list[Entry]:
            proposal = ticket_for(ticket, "deny_action", ActionTicket)
            human = holder.as_agent()
            event = action_denied_event(proposal, reason=reason, agent=human)
            feedback = feedback_of(proposal, "action_denial", human, now, reason=reason)
            return [
                record_feedback(feedback),
                record_action(audit.denied(proposal, human, now, reason)),
                publishing(event),
            ]

        return await self._resolve(agent, ticket_id, "deny_action", follow_ups)

    async def resolve(self, agent: Agent, ticket_id: str, handback: Handback) -> Ticket:
        """Close a conversation ticket; ``ai`` hands the thread back to the AI."""

        def follow_ups(ticket: Ticket, holder: Holder, now: datetime) -> list[Entry]:
            owner: Owner = "ai" if handback == "ai" else "human"
            reason = (
                f"{agent.name} resolved ticket {ticket.ticket_id} and handed the thread "
                "back to the AI"
                if handback == "ai"
                else f"{agent.name} resolved ticket {ticket.ticket_id}; people keep the thread"
            )
            # The user is told: back with the AI (handback), or resolved; then, where the
            # department asks for it, the rating prompt, after what the rating is about.
            told = Facts(agent_name=holder.name)
            notice: NoticeKind = "handback" if handback == "ai" else "resolved"
            return [
                assign(ticket, "resolve", owner=owner, agent_id=None, reason=reason),
                # What the user's rating of the conversation is about, and who gets it.
                remember_resolution(ticket, holder, now),
                *notices_for(self._config, ticket, notice, notice, told, now),
                *notices_for(self._config, ticket, "rating", "rating", told, now),
            ]

        return await self._resolve(agent, ticket_id, "resolve", follow_ups, handback=handback)

    async def _resolve(
        self,
        agent: Agent,
        ticket_id: str,
        action: Action,
        follow_ups: FollowUps,
        *,
        handback: Handback | None = None,
    ) -> Ticket:
        """Resolve the ticket with ``action``; the same request again by the same agent
        finds it done and returns it."""
        for _ in range(ATTEMPTS):
            ticket = await visible(self._tickets, agent, ticket_id)
            check_kind(ticket, action)
            if repeated_resolution(agent, ticket, action):
                return ticket
            now = self._now()
            holder, claim_id = check_holder(agent, ticket, now)
            resolution = Resolution(
                action=action,
                agent_id=agent.agent_id,
                agent_name=agent.name,
                at=now,
                handback=handback,
            )
            changed = await self._tickets.resolve(
                ticket_id,
                claim_id=claim_id,
                resolution=resolution,
                now=now,
                follow_ups=[
                    *end_claim(ticket, claim_id, now, "resolved"),
                    *follow_ups(ticket, holder, now),
                ],
            )
            if changed is not None:
                link_to(ticket.trace)
                metrics.responded(ticket, now)
                metrics.ACTIONS.labels(action=action).inc()
                resolved = await follow_through(self._tickets, changed)
                await tell(self._freed, resolved)
                return resolved
        raise keeps_changing(ticket_id)
