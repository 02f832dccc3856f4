"""The human-queue HTTP API for agents, their consoles, and admins.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations,
and the dependencies they name are local to :func:`api_router`.
"""

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, Header, Path, Query, status
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from baton_contracts import MAX_TEXT_LENGTH, TicketKind, TicketStatus, utc_now
from baton_runtime import ApiError
from baton_runtime.history import Message, Thread

from .agents import Agents, same_secret
from .domain import OPEN_STATUSES, Agent, Handback, Ticket
from .labour import LabourReport
from .service import MAX_REVIEW_LENGTH, Queue
from .store import AgentStore, FeedbackStore

TicketId = Annotated[str, Path(min_length=1, max_length=100, description="The ticket's id.")]
StatusFilter = Literal["open", "pending", "assigned", "resolved", "all"]

bearer = HTTPBearer(
    auto_error=False,
    description="An agent's API token; the `/v1/admin` endpoints take the admin token.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


class _Body(BaseModel):
    # Callers cannot set fields the API does not offer (owner, agent, status, ...).
    model_config = ConfigDict(extra="forbid")


class ReplyBody(_Body):
    text: str = Field(min_length=1, max_length=MAX_TEXT_LENGTH, description="What the user reads.")


class AnswerBody(_Body):
    text: str = Field(
        min_length=1, max_length=MAX_TEXT_LENGTH, description="The answer to the AI's question."
    )


class ApproveBody(_Body):
    text: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TEXT_LENGTH,
        description="The text to send instead of the draft; omit to send the draft as is.",
    )


class RejectBody(_Body):
    review: str = Field(
        min_length=1, max_length=MAX_REVIEW_LENGTH, description="Why the draft must not be sent."
    )


class ResolveBody(_Body):
    handback: Handback = Field(
        description="`ai`: the AI answers the thread's next messages; `none`: people keep it."
    )


class CreateAgent(_Body):
    name: str = Field(min_length=1, max_length=200, examples=["Alex"])
    departments: list[str] = Field(min_length=1, max_length=50, examples=[["billing"]])


class AgentView(BaseModel):
    agent_id: str
    name: str
    department: str | None


class ResolutionView(BaseModel):
    action: str
    agent_id: str
    agent_name: str
    at: datetime
    handback: str | None


class TicketView(BaseModel):
    ticket_id: str
    kind: TicketKind
    status: TicketStatus
    priority: int
    department: str | None
    thread_id: str
    user_tier: str | None
    user_message_id: uuid.UUID
    message_ids: list[uuid.UUID]
    reason: str | None
    question: str | None
    context: str | None
    suggestion: str | None
    confidence: float | None
    draft_message_id: uuid.UUID | None
    draft_text: str | None
    tool_call_id: str | None
    request_id: uuid.UUID | None
    assigned_agent: AgentView | None
    claimed_at: datetime | None
    lease_expires_at: datetime | None
    sla_due_at: datetime
    sla_breached: bool
    first_response_at: datetime | None
    resolution: ResolutionView | None
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, t: Ticket) -> Self:
        holder = t.holder
        resolution = t.resolution
        return cls(
            ticket_id=t.ticket_id,
            kind=t.kind,
            status=t.status,
            priority=t.priority,
            department=t.department,
            thread_id=t.thread_id,
            user_tier=t.user_tier,
            user_message_id=t.user_message_id,
            message_ids=list(t.message_ids),
            reason=t.reason,
            question=t.question,
            context=t.context,
            suggestion=t.suggestion,
            confidence=t.confidence,
            draft_message_id=t.draft_message_id,
            draft_text=t.draft_text,
            tool_call_id=t.tool_call_id,
            request_id=t.request_id,
            assigned_agent=AgentView(
                agent_id=holder.agent_id, name=holder.name, department=holder.department
            )
            if holder
            else None,
            claimed_at=t.claimed_at,
            lease_expires_at=t.lease_expires_at,
            sla_due_at=t.sla_due_at,
            sla_breached=t.sla_breached,
            first_response_at=t.first_response_at,
            resolution=ResolutionView(
                action=resolution.action,
                agent_id=resolution.agent_id,
                agent_name=resolution.agent_name,
                at=resolution.at,
                handback=resolution.handback,
            )
            if resolution
            else None,
            created_at=t.created_at,
            updated_at=t.updated_at,
            resolved_at=t.resolved_at,
        )


class TicketList(BaseModel):
    tickets: list[TicketView]


class MessageView(BaseModel):
    message_id: uuid.UUID
    role: str
    text: str
    content: str | list[dict[str, Any]] = Field(
        description="The text, or for tool traffic the tool-call / tool-result parts."
    )
    agent_name: str | None
    provider: str | None
    status: str | None = Field(description="For drafts: pending_approval, approved, rejected.")
    visible_to_user: bool
    in_reply_to: uuid.UUID | None
    human: dict[str, Any] | None = Field(
        description="For a person's message: agent id, name, department, response time."
    )
    created_at: datetime

    @classmethod
    def of(cls, m: Message) -> Self:
        provider_metadata = m.metadata.get("provider_metadata") or {}
        return cls(
            message_id=m.message_id,
            role=m.role,
            text=m.text,
            content=m.content,
            agent_name=m.agent_name,
            provider=m.provider,
            status=m.status,
            visible_to_user=m.visible_to_user,
            in_reply_to=m.in_reply_to,
            human=provider_metadata.get("human"),
            created_at=m.created_at,
        )


class ThreadView(BaseModel):
    thread_id: str
    user_id: str | None
    channel: str | None
    department: str | None
    user_tier: str | None
    owner: str
    assigned_agent: str | None

    @classmethod
    def of(cls, t: Thread) -> Self:
        return cls(
            thread_id=t.thread_id,
            user_id=t.user_id,
            channel=t.channel,
            department=t.department,
            user_tier=t.user_tier,
            owner=t.owner,
            assigned_agent=t.assigned_agent,
        )


class AiView(BaseModel):
    """What the AI handed over: its question, its suggested reply, or its draft."""

    reason: str | None
    question: str | None
    context: str | None
    suggestion: str | None
    confidence: float | None
    draft_message_id: uuid.UUID | None
    draft_text: str | None


class TicketDetail(BaseModel):
    ticket: TicketView
    ai: AiView
    thread: ThreadView | None
    messages: list[MessageView] = Field(description="The thread's recent messages, oldest first.")


class ReplyResult(BaseModel):
    message_id: uuid.UUID
    ticket: TicketView


class ThreadMessages(BaseModel):
    thread: ThreadView
    messages: list[MessageView]


class AgentCreated(BaseModel):
    agent_id: str
    name: str
    departments: list[str]
    token: str = Field(description="The agent's API token. It is shown only this once.")


class AgentSummary(BaseModel):
    agent_id: str
    name: str
    departments: list[str]
    active: bool
    created_at: datetime


class AgentList(BaseModel):
    agents: list[AgentSummary]


def _statuses(value: StatusFilter) -> tuple[TicketStatus, ...]:
    if value == "open":
        return OPEN_STATUSES
    if value == "all":
        return ("pending", "assigned", "resolved")
    return (value,)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _json_line(doc: dict[str, Any]) -> str:
    record = {"feedback_id": doc["_id"], **{k: v for k, v in doc.items() if k != "_id"}}
    return json.dumps(record, default=lambda v: v.isoformat(), ensure_ascii=False) + "\n"


def api_router(
    queue: Queue,
    agents: Agents,
    *,
    agent_store: AgentStore,
    feedback: FeedbackStore,
    admin_token: SecretStr,
) -> APIRouter:
    router = APIRouter(prefix="/v1")

    async def current_agent(credentials: Credentials) -> Agent:
        if credentials is None:
            raise ApiError(401, "unauthenticated", "send an agent token: Authorization: Bearer …")
        agent = await agents.authenticate(credentials.credentials)
        if agent is None:
            raise ApiError(401, "invalid_token", "the bearer token is not a valid agent token")
        return agent

    async def admin(credentials: Credentials) -> None:
        if credentials is None:
            raise ApiError(401, "unauthenticated", "send the admin token: Authorization: Bearer …")
        if not same_secret(credentials.credentials, admin_token.get_secret_value()):
            raise ApiError(401, "invalid_token", "the bearer token is not the admin token")

    SignedIn = Annotated[Agent, Depends(current_agent)]  # noqa: N806 - a type alias
    errors: dict[int | str, dict[str, Any]] = {
        401: {"description": "Missing or invalid token"},
        403: {"description": "Another department's ticket, or held by someone else"},
        404: {"description": "Unknown ticket"},
        409: {"description": "Claimed already, resolved, wrong kind, or claim expired"},
        422: {"description": "Invalid body"},
    }

    @router.get("/tickets", tags=["tickets"], responses=errors)
    async def list_tickets(
        agent: SignedIn,
        status: StatusFilter = "open",
        department: Annotated[str | None, Query(max_length=100)] = None,
        kind: TicketKind | None = None,
        thread_id: Annotated[str | None, Query(max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> TicketList:
        """The queue as this agent sees it (its departments, and tickets without one):
        highest priority first, then oldest first."""
        tickets = await queue.search(
            agent,
            statuses=_statuses(status),
            department=department,
            kind=kind,
            thread_id=thread_id,
            limit=limit,
        )
        return TicketList(tickets=[TicketView.of(t) for t in tickets])

    @router.get("/tickets/{ticket_id}", tags=["tickets"], responses=errors)
    async def get_ticket(agent: SignedIn, ticket_id: TicketId) -> TicketDetail:
        """A ticket with what the AI handed over and the thread's recent messages. The
        holder's look counts as activity and renews the claim."""
        found = await queue.get(agent, ticket_id)
        t = found.ticket
        return TicketDetail(
            ticket=TicketView.of(t),
            ai=AiView(
                reason=t.reason,
                question=t.question,
                context=t.context,
                suggestion=t.suggestion,
                confidence=t.confidence,
                draft_message_id=t.draft_message_id,
                draft_text=t.draft_text,
            ),
            thread=ThreadView.of(found.thread) if found.thread else None,
            messages=[MessageView.of(m) for m in found.messages],
        )

    @router.post("/tickets/{ticket_id}/claim", tags=["tickets"], responses=errors)
    async def claim(agent: SignedIn, ticket_id: TicketId) -> TicketView:
        """Claim the ticket for a lease; claiming a ticket you hold renews the lease.
        Of concurrent claims exactly one wins; the others get 409."""
        return TicketView.of(await queue.claim(agent, ticket_id))

    @router.post("/tickets/{ticket_id}/release", tags=["tickets"], responses=errors)
    async def release(agent: SignedIn, ticket_id: TicketId) -> TicketView:
        """Put the ticket back in the queue at once."""
        return TicketView.of(await queue.release(agent, ticket_id))

    @router.post("/tickets/{ticket_id}/reply", tags=["tickets"], responses=errors)
    async def reply(
        agent: SignedIn,
        ticket_id: TicketId,
        body: ReplyBody,
        idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    ) -> ReplyResult:
        """Write to the user in the thread under your own name (conversation and
        escalation tickets). With an `Idempotency-Key` header a retried request sends
        nothing twice."""
        result = await queue.reply(agent, ticket_id, body.text, idempotency_key=idempotency_key)
        return ReplyResult(message_id=result.message_id, ticket=TicketView.of(result.ticket))

    @router.post("/tickets/{ticket_id}/answer", tags=["tickets"], responses=errors)
    async def answer(agent: SignedIn, ticket_id: TicketId, body: AnswerBody) -> TicketView:
        """Answer the AI's question (question tickets); the AI then continues its reply."""
        return TicketView.of(await queue.answer(agent, ticket_id, body.text))

    @router.post("/tickets/{ticket_id}/approve", tags=["tickets"], responses=errors)
    async def approve(
        agent: SignedIn, ticket_id: TicketId, body: ApproveBody | None = None
    ) -> TicketView:
        """Approve the AI's draft (approval tickets), optionally with your edit."""
        text = body.text if body is not None else None
        return TicketView.of(await queue.approve(agent, ticket_id, text))

    @router.post("/tickets/{ticket_id}/reject", tags=["tickets"], responses=errors)
    async def reject(agent: SignedIn, ticket_id: TicketId, body: RejectBody) -> TicketView:
        """Reject the AI's draft with a review (approval tickets)."""
        return TicketView.of(await queue.reject(agent, ticket_id, body.review))

    @router.post("/tickets/{ticket_id}/resolve", tags=["tickets"], responses=errors)
    async def resolve(agent: SignedIn, ticket_id: TicketId, body: ResolveBody) -> TicketView:
        """Close a conversation or escalation ticket, handing the thread back to the AI
        (`ai`) or leaving it with people (`none`)."""
        return TicketView.of(await queue.resolve(agent, ticket_id, body.handback))

    @router.get("/threads/{thread_id}/messages", tags=["threads"], responses=errors)
    async def thread_messages(
        agent: SignedIn,
        thread_id: Annotated[str, Path(max_length=128)],
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> ThreadMessages:
        """Every message of the thread, oldest first, tool traffic and drafts included."""
        thread, messages = await queue.thread_messages(agent, thread_id, limit=limit)
        return ThreadMessages(
            thread=ThreadView.of(thread), messages=[MessageView.of(m) for m in messages]
        )

    admin_only = [Depends(admin)]
    admin_errors: dict[int | str, dict[str, Any]] = {401: errors[401], 422: errors[422]}

    @router.post(
        "/admin/agents",
        tags=["admin"],
        dependencies=admin_only,
        status_code=status.HTTP_201_CREATED,
        responses=admin_errors,
    )
    async def create_agent(body: CreateAgent) -> AgentCreated:
        """Create an agent. The response holds its token, which is not shown again."""
        created = await agents.create(body.name, body.departments)
        return AgentCreated(
            agent_id=created.agent.agent_id,
            name=created.agent.name,
            departments=list(created.agent.departments),
            token=created.token,
        )

    @router.get("/admin/agents", tags=["admin"], dependencies=admin_only, responses=admin_errors)
    async def list_agents() -> AgentList:
        docs = await agent_store.all()
        return AgentList(
            agents=[
                AgentSummary(
                    agent_id=d["_id"],
                    name=d["name"],
                    departments=d["departments"],
                    active=d.get("active", True),
                    created_at=d["created_at"],
                )
                for d in docs
            ]
        )

    @router.get(
        "/admin/feedback.jsonl",
        tags=["admin"],
        dependencies=admin_only,
        responses={200: {"content": {"application/x-ndjson": {}}}, **admin_errors},
        response_class=StreamingResponse,
    )
    async def feedback_export(since: datetime | None = None) -> StreamingResponse:
        """People's feedback on AI output, one JSON object per line: every approval (with
        its edit), rejection review and answer, with the AI output it refers to."""
        docs = await feedback.all(since=_aware(since) if since else None)

        async def lines() -> AsyncIterator[str]:
            for doc in docs:
                yield _json_line(doc)

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    @router.get("/admin/labour", tags=["admin"], dependencies=admin_only, responses=admin_errors)
    async def labour(since: datetime | None = None, until: datetime | None = None) -> LabourReport:
        """Per ticket created in [since, until): time to claim, to first response, and
        handling time per claim; aggregated per agent. Defaults to the last 7 days."""
        end = _aware(until) if until else utc_now()
        start = _aware(since) if since else end - timedelta(days=7)
        if start >= end:
            raise ApiError(422, "invalid_period", "`since` must be before `until`")
        return await queue.labour(start, end)

    return router
