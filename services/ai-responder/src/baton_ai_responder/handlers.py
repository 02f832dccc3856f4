"""The AI responder's handlers, one per consumed event."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

from baton_contracts import (
    DraftApproved,
    DraftRejected,
    Event,
    HumanResponded,
    RouteDecided,
    derive_id,
)
from baton_runtime import Rejected, record_message_sent
from baton_runtime.history import Message

from .metrics import APPROVALS
from .turn import AiDeps, Turn, message_sent

REGENERATE_AFTER_REJECTION = (
    "A support agent rejected your previous draft reply.\n"
    "Rejected draft: {draft}\nTheir review: {review}\n"
    "Write a new reply to the customer that addresses the review."
)


def routed_to_ai(event: RouteDecided) -> bool:
    """The AI's share of the router's decisions; people's go to the queue."""
    return event.handler == "ai"


async def on_route_decided(event: RouteDecided, *, deps: AiDeps) -> Sequence[Event]:
    """A route to the AI (subscribed with ``wants=routed_to_ai``) starts a turn."""
    thread = await deps.history.require_thread(event.thread_id)
    return await Turn(deps, cause=event, thread=thread, user_message_id=event.message_id).run()


async def on_human_responded(event: HumanResponded, *, deps: AiDeps) -> Sequence[Event]:
    """A person answered the AI's ``ask_human``: store it as the tool result, continue."""
    if event.kind != "answer":
        return ()  # a person wrote to the user directly; nothing for the AI to do

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
    thread = await deps.history.require_thread(event.thread_id)
    await deps.history.append(
        Message(
            message_id=derive_id(event.event_id, "tool-result"),
            thread_id=thread.thread_id,
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
        ),
        thread=thread,
    )
    await deps.requests.close(request.request_id, answered_by=event.agent.agent_id)
    turn = Turn(deps, cause=event, thread=thread, user_message_id=request.user_message_id)
    return await turn.run()


async def _pending_draft(deps: AiDeps, draft_message_id: uuid.UUID) -> Message:
    draft = await deps.history.get_message(draft_message_id)
    if draft is None or draft.status is None:
        raise Rejected(f"no draft {draft_message_id}", code="unknown_draft")
    return draft


async def on_draft_approved(event: DraftApproved, *, deps: AiDeps) -> Sequence[Event]:
    """Send exactly the approved (possibly edited) text."""

    draft = await _pending_draft(deps, event.draft_message_id)
    if draft.status == "rejected":
        raise Rejected(f"draft {draft.message_id} was rejected already", code="draft_closed")
    if draft.status == "approved":
        return []  # approved by an earlier event; it was sent then
    changed = await deps.history.update_message(
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
        status="pending_approval",
    )
    if not changed:
        return []
    APPROVALS.labels("edited" if event.edited else "approved").inc()
    thread = await deps.history.require_thread(event.thread_id)
    approved = replace(draft, content=event.text, status="approved", visible_to_user=True)
    user_message = await deps.history.get_message(draft.in_reply_to) if draft.in_reply_to else None
    record_message_sent(
        answered_by="ai_approved",
        provider=approved.provider or "openai",
        user_message_at=user_message.created_at if user_message else None,
    )
    return [message_sent(event, thread, approved)]


async def on_draft_rejected(
    event: DraftRejected, *, deps: AiDeps, fallback: str
) -> Sequence[Event]:
    """Record the review, then regenerate once with it, or hand the thread to a person."""

    draft = await _pending_draft(deps, event.draft_message_id)
    if draft.status != "pending_approval":
        return []
    await deps.history.update_message(
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
        status="pending_approval",
    )
    APPROVALS.labels("rejected").inc()
    thread = await deps.history.require_thread(event.thread_id)
    assert draft.in_reply_to is not None
    attempt = int(draft.metadata.get("draft_attempt", 0))
    if fallback == "regenerate" and attempt < 1:
        turn = Turn(
            deps,
            cause=event,
            thread=thread,
            user_message_id=draft.in_reply_to,
            extra_instructions=[
                REGENERATE_AFTER_REJECTION.format(draft=draft.text, review=event.review)
            ],
            draft_attempt=attempt + 1,
        )
        return await turn.run()
    turn = Turn(deps, cause=event, thread=thread, user_message_id=draft.in_reply_to)
    return await turn.hand_off(
        reason=f"draft rejected: {event.review}"[:1000],
        category="draft_rejected",
        suggestion=draft.text,
    )
