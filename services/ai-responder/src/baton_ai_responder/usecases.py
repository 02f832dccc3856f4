"""The AI responder's use cases: start a turn, continue one with a person's answer, send
an approved draft, act on a rejected one."""

from __future__ import annotations

import uuid
from typing import Literal

from baton_contracts import (
    DraftApproved,
    DraftRejected,
    Event,
    HumanResponded,
    RouteDecided,
    derive_id,
)
from baton_conversations import Message
from baton_runtime import Rejected, record_message_sent

from .metrics import APPROVALS
from .turn import AiDeps, Turn, message_sent

RejectionFallback = Literal["regenerate", "human"]

REGENERATE_AFTER_REJECTION = (
    "A support agent rejected your previous draft reply.\n"
    "Rejected draft: {draft}\nTheir review: {review}\n"
    "Write a new reply to the customer that addresses the review."
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
        request = None
        if event.request_id is not None:
            request = await deps.requests.get(event.request_id)
        if request is None and event.tool_call_id:
            request = await deps.requests.by_tool_call(event.tool_call_id)
        if request is None or request.tool_call_id is None:
            raise Rejected(
                f"no open ask_human request {event.request_id} / {event.tool_call_id}",
                code="unknown_request",
            )
        appended = await deps.conversations.append(
            Message(
                message_id=derive_id(event.event_id, "tool-result"),
                thread_id=event.thread_id,
                role="tool",
                content=[
                    {
                        "type": "tool-result",
                        "tool_call_id": request.tool_call_id,
                        "tool_name": "ask_human",
                        "result": event.text,
                    }
                ],
                agent_name=event.agent.name,
                provider="human",
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
                visible_to_user=False,
                in_reply_to=request.user_message_id,
            )
        )
        await deps.requests.close(request.request_id, answered_by=event.agent.agent_id)
        # The thread as the answer took its place, so the turn's window holds the answer.
        thread = appended.thread or await deps.conversations.require_thread(event.thread_id)
        return await Turn(
            deps, cause=event, thread=thread, user_message_id=request.user_message_id
        ).run()

    async def approved(self, event: DraftApproved) -> list[Event]:
        """Send exactly the approved (possibly edited) text."""
        deps = self._deps
        draft = await self._draft(event.draft_message_id)
        if draft.status == "rejected":
            raise Rejected(f"draft {draft.message_id} was rejected already", code="draft_closed")
        if draft.status == "approved":
            return []  # approved by an earlier event; it was sent then
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
            return []
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
