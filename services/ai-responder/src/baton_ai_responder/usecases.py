"""The AI responder's use cases: start a turn, continue one with a person's answer (or
without it, when nobody answered in time) or decision on an action, send an approved
draft, act on a rejected one; and summarise a new ticket for the person who picks it up."""

from __future__ import annotations

import logging
import uuid
from typing import Literal

from baton_contracts import (
    ActionDecided,
    DraftApproved,
    DraftRejected,
    Event,
    HumanResponded,
    MessageSent,
    RouteDecided,
    TicketExpired,
    TicketOpened,
    TicketSummarized,
)
from baton_conversations import ConversationStore, Message
from baton_runtime import Rejected, record_message_sent

from .llm import ModelUnavailableError
from .metrics import APPROVALS, SUMMARIES, TOOL_CALLS
from .store import PendingRequest
from .summary import Summarizer, summary_request
from .tools import ASK_HUMAN
from .turn import AiDeps, Turn, denial, message_sent

log = logging.getLogger(__name__)

RejectionFallback = Literal["regenerate", "human"]

REGENERATE_AFTER_REJECTION = (
    "A support agent rejected your previous draft reply.\n"
    "Rejected draft: {draft}\nTheir review: {review}\n"
    "Write a new reply to the customer that addresses the review."
)
NO_ANSWER_IN_TIME = (
    "No colleague could answer in time ({reason}). Answer the customer with what you know, "
    "say plainly what you could not confirm, and do not ask a colleague about this again."
)
HANDED_OVER_UNANSWERED = (
    "No colleague answered in time ({reason}); the conversation was handed to a person."
)


class Responder:
    def __init__(self, deps: AiDeps, *, rejection_fallback: RejectionFallback) -> None:
        self._deps = deps
        self._fallback = rejection_fallback

    async def route(self, event: RouteDecided) -> list[Event]:
        """A user message routed to the AI: a turn."""
        thread = await self._deps.conversations.require_thread(event.thread_id)
        return await Turn(
            self._deps, cause=event, thread=thread, user_message_id=event.message_id
        ).run()

    async def answered(self, event: HumanResponded) -> list[Event]:
        """A person answered the AI's ``ask_human``: the answer becomes the tool call's
        result, and the turn goes on."""
        if event.kind != "answer":
            return []  # a person wrote to the user directly; nothing for the AI to do
        deps = self._deps
        request = await self._request(event.request_id, event.tool_call_id)
        if request.tool_call_id is None:
            raise Rejected(f"request {request.request_id} is no ask_human", code="unknown_request")
        thread = await deps.conversations.require_thread(event.thread_id)
        turn = Turn(deps, cause=event, thread=thread, user_message_id=request.user_message_id)
        await turn.resume_with(
            request.tool_call_id,
            ASK_HUMAN,
            event.text,
            provider="human",
            agent_name=event.agent.name,
            metadata={
                "provider_metadata": {
                    "human": {
                        "agent_id": event.agent.agent_id,
                        "name": event.agent.name,
                        "department": event.agent.department,
                        "response_time_ms": event.response_time_ms,
                    }
                },
                "ticket_id": event.ticket_id,
            },
            request=request,
        )
        await deps.requests.close(request.request_id, answered_by=event.agent.agent_id)
        return await turn.run()

    async def decided(self, event: ActionDecided) -> list[Event]:
        """A person approved the action the AI proposed (it runs, at most once) or denied
        it; either way the turn goes on with the outcome as the call's result."""
        deps = self._deps
        request = await self._request(event.request_id, event.tool_call_id)
        if request.kind != "action":
            raise Rejected(f"request {request.request_id} is no action", code="unknown_request")
        thread = await deps.conversations.require_thread(event.thread_id)
        turn = Turn(deps, cause=event, thread=thread, user_message_id=request.user_message_id)
        events = await turn.resume(request, event)
        await deps.requests.close(
            request.request_id, decision=event.decision, decided_by=event.agent.agent_id
        )
        return events

    async def expired(self, event: TicketExpired) -> list[Event]:
        """Nobody answered the AI's request in time. A pending ``ask_human`` call gets a
        result that says so, a pending action a denial with reason ``expired``; then the
        turn goes on without them (fallback ``ai``, as after an answer) or the
        conversation goes to people (``human``)."""
        deps = self._deps
        request = await self._request(event.request_id, event.tool_call_id)
        thread = await deps.conversations.require_thread(event.thread_id)
        turn = Turn(deps, cause=event, thread=thread, user_message_id=request.user_message_id)
        action = request.kind == "action"
        if request.tool_call_id is not None:
            if action:
                TOOL_CALLS.labels(tool=request.tool_name or "unknown", outcome="expired").inc()
                tool_name, result = request.tool_name or "unknown", denial("expired")
            else:
                words = NO_ANSWER_IN_TIME if event.fallback == "ai" else HANDED_OVER_UNANSWERED
                tool_name, result = ASK_HUMAN, words.format(reason=event.reason)
            await turn.resume_with(
                request.tool_call_id,
                tool_name,
                result,
                metadata={"ticket_id": event.ticket_id, "expired": True},
                request=request,
            )
        await deps.requests.close(request.request_id, expired_ticket=event.ticket_id)
        if event.fallback == "human":
            what = "decided on the AI's action" if action else f"answered the AI's {event.kind}"
            return await turn.hand_off(
                reason=f"nobody {what} in time: {event.reason}"[:1000],
                category="question_expired",
            )
        if request.tool_call_id is None:
            return []  # no call waits for a result: nothing to go on with
        return await turn.run()

    async def _request(
        self, request_id: uuid.UUID | None, tool_call_id: str | None
    ) -> PendingRequest:
        """The AI's request a person's response (or its expiry) is about."""
        request = None
        if request_id is not None:
            request = await self._deps.requests.get(request_id)
        if request is None and tool_call_id:
            request = await self._deps.requests.by_tool_call(tool_call_id)
        if request is None:
            raise Rejected(f"no open request {request_id} / {tool_call_id}", code="unknown_request")
        return request

    async def approved(self, event: DraftApproved) -> list[Event]:
        """Send exactly the approved (possibly edited) text."""
        deps = self._deps
        draft = await self._draft(event.draft_message_id)
        if draft.status == "rejected":
            raise Rejected(f"draft {draft.message_id} was rejected already", code="draft_closed")
        if draft.status == "approved":
            # Approved before, and perhaps never announced (a crash between the two): its
            # message.sent again, under the same event id, so the user gets it once.
            return [await self._announce(event, draft)]
        approved = await deps.conversations.settle_draft(
            draft.message_id,
            {
                "status": "approved",
                "content": event.text,
                "visible_to_user": True,
                "metadata.review": {
                    "decision": "approved",
                    "edited": event.edited,
                    "original_text": draft.text,
                    "agent_id": event.agent.agent_id,
                    "agent_name": event.agent.name,
                },
            },
        )
        if approved is None:
            # Settled meanwhile: by another approval (announce it), or a rejection (nothing).
            again = await self._draft(event.draft_message_id)
            return [await self._announce(event, again)] if again.status == "approved" else []
        APPROVALS.labels("edited" if event.edited else "approved").inc()
        thread = await deps.conversations.require_thread(event.thread_id)
        asked = (
            await deps.conversations.get_message(draft.in_reply_to) if draft.in_reply_to else None
        )
        record_message_sent(
            answered_by="ai_approved",
            provider=approved.provider or "openai",
            user_message_at=asked.created_at if asked else None,
        )
        return [message_sent(event, thread, approved)]

    async def _announce(self, event: DraftApproved, draft: Message) -> MessageSent:
        thread = await self._deps.conversations.require_thread(event.thread_id)
        return message_sent(event, thread, draft)

    async def rejected(self, event: DraftRejected) -> list[Event]:
        """Record the review, then write the reply again once with it, or hand the thread
        to a person."""
        deps = self._deps
        draft = await self._draft(event.draft_message_id)
        if draft.status != "pending_approval":
            return []
        await deps.conversations.settle_draft(
            draft.message_id,
            {
                "status": "rejected",
                "metadata.review": {
                    "decision": "rejected",
                    "review": event.review,
                    "agent_id": event.agent.agent_id,
                    "agent_name": event.agent.name,
                },
            },
        )
        APPROVALS.labels("rejected").inc()
        thread = await deps.conversations.require_thread(event.thread_id)
        assert draft.in_reply_to is not None
        attempt = int(draft.metadata.get("draft_attempt", 0))
        if self._fallback == "regenerate" and attempt < 1:
            return await Turn(
                deps,
                cause=event,
                thread=thread,
                user_message_id=draft.in_reply_to,
                extra_instructions=[
                    REGENERATE_AFTER_REJECTION.format(draft=draft.text, review=event.review)
                ],
                draft_attempt=attempt + 1,
            ).run()
        turn = Turn(deps, cause=event, thread=thread, user_message_id=draft.in_reply_to)
        return await turn.hand_off(
            reason=f"draft rejected: {event.review}"[:1000],
            category="draft_rejected",
            suggestion=draft.text,
        )

    async def _draft(self, draft_message_id: uuid.UUID) -> Message:
        draft = await self._deps.conversations.get_message(draft_message_id)
        if draft is None or draft.status is None:
            raise Rejected(f"no draft {draft_message_id}", code="unknown_draft")
        return draft


class Summaries:
    """A summary of each new ticket's conversation for the person who picks it up, written
    after the ticket opened: the ticket is usable at once, and without a summary when the
    model fails."""

    def __init__(
        self,
        *,
        conversations: ConversationStore,
        summarizer: Summarizer,
        history_window: int,
        enabled: bool = True,
    ) -> None:
        self._conversations = conversations
        self._summarizer = summarizer
        self._window = history_window
        self._enabled = enabled

    async def opened(self, event: TicketOpened) -> list[Event]:
        if not self._enabled:
            return []
        thread = await self._conversations.require_thread(event.thread_id)
        history = await self._conversations.window(thread, limit=self._window)
        try:
            summary = await self._summarizer.summarize(
                summary_request(history, kind=event.kind, reason=event.reason)
            )
        except ModelUnavailableError as exc:
            # A summary is a convenience: the ticket goes without one, the pipeline on.
            SUMMARIES.labels("failed").inc()
            log.warning("no summary for ticket %s: %s", event.ticket_id, exc)
            return []
        SUMMARIES.labels("written").inc()
        return [
            TicketSummarized.caused_by(
                event, purpose="ticket.summarized", ticket_id=event.ticket_id, summary=summary
            )
        ]
