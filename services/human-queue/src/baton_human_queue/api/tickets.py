"""The agent API's ticket routes: the queue, a ticket, claims and the holder's actions.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from baton_contracts import MAX_TEXT_LENGTH, THREAD_ID_PATTERN, TicketKind, TicketStatus

from ..domain import FIT_NAME_PATTERN, FIT_TEXT_PATTERN, MAX_REVIEW_LENGTH, Agent
from ..tickets import OPEN_STATUSES, Handback
from ..usecases import ActionRecords, Claims, HolderActions, Reading
from ..usecases.notes import Notes
from .auth import Auth
from .team_views import NoteView
from .views import (
    AiView,
    HistoryEntry,
    MessageView,
    ReplyResult,
    ThreadView,
    TicketDetail,
    TicketList,
    TicketView,
)

TICKET_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$"
TicketId = Annotated[
    str, Path(max_length=100, pattern=TICKET_ID_PATTERN, description="The ticket's id.")
]
# The schema states the rule the queue enforces on what people write (check_text), which
# answers with `invalid_text`, lone surrogates included.
FIT_TEXT: JsonDict = {"pattern": FIT_TEXT_PATTERN}
StatusFilter = Literal["open", "pending", "assigned", "resolved", "all"]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    403: {"description": "Another department's ticket, or held by someone else"},
    404: {"description": "Unknown ticket"},
    409: {"description": "Claimed already, resolved, wrong kind, or claim expired"},
    422: {"description": "Invalid body (`invalid_arguments`: the tool's schema refuses them)"},
}


class _Body(BaseModel):
    # Callers cannot set fields the API does not offer (owner, agent, status, ...).
    model_config = ConfigDict(extra="forbid", strict=True)


class ReplyBody(_Body):
    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT_LENGTH,
        description="What the user reads.",
        json_schema_extra=FIT_TEXT,
    )
    in_reply_to: uuid.UUID | None = Field(
        default=None,
        # A UUID arrives in JSON as a string, which strict mode alone would refuse.
        strict=False,
        description="The ticket's user message this answers; the latest one if not given.",
    )


class AnswerBody(_Body):
    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT_LENGTH,
        description="The answer to the AI's question.",
        json_schema_extra=FIT_TEXT,
    )


class ApproveBody(_Body):
    text: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TEXT_LENGTH,
        description="The text to send instead of the draft; omit to send the draft as is.",
        json_schema_extra=FIT_TEXT,
    )


class RejectBody(_Body):
    review: str = Field(
        min_length=1,
        max_length=MAX_REVIEW_LENGTH,
        description="Why the draft must not be sent.",
        json_schema_extra=FIT_TEXT,
    )


class ApproveActionBody(_Body):
    arguments: dict[str, Any] | None = Field(
        default=None,
        description="The arguments to run the call with instead of the proposed ones; the "
        "tool's JSON Schema must accept them. Omit to run it as proposed.",
    )


class DenyActionBody(_Body):
    reason: str = Field(
        min_length=1,
        max_length=MAX_REVIEW_LENGTH,
        description="Why the call must not run; the AI reads it.",
        json_schema_extra=FIT_TEXT,
    )


class ResolveBody(_Body):
    handback: Handback = Field(
        description="`ai`: the AI answers the thread's next messages; `none`: people keep it."
    )


def _statuses(value: StatusFilter) -> tuple[TicketStatus, ...]:
    if value == "open":
        return OPEN_STATUSES
    if value == "all":
        return ("pending", "assigned", "resolved")
    return (value,)


def tickets_router(
    auth: Auth,
    *,
    reading: Reading,
    claims: Claims,
    holder: HolderActions,
    notes: Notes | None = None,
    actions: ActionRecords | None = None,
) -> APIRouter:
    router = APIRouter(prefix="/v1/tickets", tags=["tickets"], responses=ERRORS)
    SignedIn = Annotated[Agent, Depends(auth.agent)]  # noqa: N806 - a type alias

    @router.get("")
    async def list_tickets(
        agent: SignedIn,
        status: StatusFilter = "open",
        department: Annotated[str | None, Query(max_length=100, pattern=FIT_NAME_PATTERN)] = None,
        kind: TicketKind | None = None,
        thread_id: Annotated[str | None, Query(pattern=THREAD_ID_PATTERN)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> TicketList:
        """The queue as this agent sees it (its departments, and tickets without one):
        highest priority first, then oldest first."""
        found = await reading.search(
            agent,
            statuses=_statuses(status),
            department=department,
            kind=kind,
            thread_id=thread_id,
            limit=limit,
        )
        return TicketList(tickets=[TicketView.of(t) for t in found])

    @router.get("/{ticket_id}")
    async def get_ticket(agent: SignedIn, ticket_id: TicketId) -> TicketDetail:
        """A ticket with what the AI handed over and the thread's recent messages (for an
        action ticket, what happened to its tool call). The holder's look counts as activity
        and renews the claim."""
        found = await reading.look(agent, ticket_id)
        internal = await notes.of_ticket(agent, found.ticket) if notes else []
        history = await actions.history(found.ticket) if actions else []
        return TicketDetail(
            ticket=TicketView.of(found.ticket),
            ai=AiView.of(found.ticket),
            thread=ThreadView.of(found.thread) if found.thread else None,
            messages=[MessageView.of(m) for m in found.messages],
            notes=[NoteView.of(n) for n in internal],
            history=[HistoryEntry.of(r) for r in history],
        )

    @router.post("/{ticket_id}/claim")
    async def claim_ticket(agent: SignedIn, ticket_id: TicketId) -> TicketView:
        """Claim the ticket for a lease; claiming a ticket you hold renews the lease.
        Of concurrent claims exactly one wins; the others get 409."""
        return TicketView.of(await claims.claim(agent, ticket_id))

    @router.post("/{ticket_id}/release")
    async def release_ticket(agent: SignedIn, ticket_id: TicketId) -> TicketView:
        """Put the ticket back in the queue at once."""
        return TicketView.of(await claims.release(agent, ticket_id))

    @router.post("/{ticket_id}/reply")
    async def reply_to_user(
        agent: SignedIn,
        ticket_id: TicketId,
        body: ReplyBody,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> ReplyResult:
        """Write to the user in the thread under your own name (conversation and
        escalation tickets). With an `Idempotency-Key` header a retried request sends
        nothing twice."""
        result = await holder.reply(
            agent,
            ticket_id,
            body.text,
            idempotency_key=idempotency_key,
            in_reply_to=body.in_reply_to,
        )
        return ReplyResult(message_id=result.message_id, ticket=TicketView.of(result.ticket))

    @router.post("/{ticket_id}/answer")
    async def answer_question(agent: SignedIn, ticket_id: TicketId, body: AnswerBody) -> TicketView:
        """Answer the AI's question (question tickets); the AI then continues its reply."""
        return TicketView.of(await holder.answer(agent, ticket_id, body.text))

    @router.post("/{ticket_id}/approve")
    async def approve_draft(
        agent: SignedIn, ticket_id: TicketId, body: ApproveBody | None = None
    ) -> TicketView:
        """Approve the AI's draft (approval tickets), optionally with your edit."""
        text = body.text if body is not None else None
        return TicketView.of(await holder.approve(agent, ticket_id, text))

    @router.post("/{ticket_id}/reject")
    async def reject_draft(agent: SignedIn, ticket_id: TicketId, body: RejectBody) -> TicketView:
        """Reject the AI's draft with a review (approval tickets)."""
        return TicketView.of(await holder.reject(agent, ticket_id, body.review))

    @router.post("/{ticket_id}/approve-action")
    async def approve_action(
        agent: SignedIn, ticket_id: TicketId, body: ApproveActionBody | None = None
    ) -> TicketView:
        """Let the AI's proposed tool call run (action tickets), as proposed or with your
        edited arguments; arguments the tool's JSON Schema refuses get 422
        `invalid_arguments`, naming where and why."""
        arguments = body.arguments if body is not None else None
        return TicketView.of(await holder.approve_action(agent, ticket_id, arguments))

    @router.post("/{ticket_id}/deny-action")
    async def deny_action(agent: SignedIn, ticket_id: TicketId, body: DenyActionBody) -> TicketView:
        """Refuse the AI's proposed tool call with a reason (action tickets); the AI goes
        on without it."""
        return TicketView.of(await holder.deny_action(agent, ticket_id, body.reason))

    @router.post("/{ticket_id}/resolve")
    async def resolve_ticket(agent: SignedIn, ticket_id: TicketId, body: ResolveBody) -> TicketView:
        """Close a conversation or escalation ticket, handing the thread back to the AI
        (`ai`) or leaving it with people (`none`)."""
        return TicketView.of(await holder.resolve(agent, ticket_id, body.handback))

    return router
