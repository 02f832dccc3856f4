"""Moving work: transfer a ticket, a supervisor's assignment, a takeover from the AI.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from baton_contracts import MAX_TEXT_LENGTH, THREAD_ID_PATTERN

from ..domain import FIT_TEXT_PATTERN, Agent
from ..usecases.moving import MovingWork
from .auth import Auth
from .tickets import TicketId
from .views import TicketView

AGENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$"
DEPARTMENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$"
ThreadId = Annotated[str, Path(pattern=THREAD_ID_PATTERN, description="The thread's id.")]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    403: {"description": "Not the holder nor a supervisor, or another department's ticket"},
    404: {"description": "Unknown ticket, thread, department or agent"},
    409: {
        "description": "Resolved ticket, agent not serving the department, at capacity, "
        "thread owned by people already"
    },
    422: {"description": "Invalid body"},
}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TransferBody(_Body):
    department: str | None = Field(
        default=None,
        pattern=DEPARTMENT_PATTERN,
        description="The department the ticket moves to; omitted: it stays in its own.",
    )
    agent_id: str | None = Field(
        default=None,
        pattern=AGENT_ID_PATTERN,
        description="The agent who gets the ticket; omitted: the department's queue, where "
        "its assignment policy applies.",
    )
    note: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TEXT_LENGTH,
        description="Kept as an internal note on the ticket, for the people who receive it.",
        json_schema_extra={"pattern": FIT_TEXT_PATTERN},
    )


class AssignBody(_Body):
    agent_id: str = Field(pattern=AGENT_ID_PATTERN, description="The agent who gets the ticket.")


def moving_router(auth: Auth, *, moving: MovingWork) -> APIRouter:
    router = APIRouter(responses=ERRORS)
    SignedIn = Annotated[Agent, Depends(auth.agent)]  # noqa: N806 - a type alias

    @router.post("/v1/tickets/{ticket_id}/transfer", tags=["tickets"])
    async def transfer_ticket(
        agent: SignedIn, ticket_id: TicketId, body: TransferBody
    ) -> TicketView:
        """Move the ticket to another department and/or agent (its holder or a supervisor).
        Without an agent it waits in the department's queue, where the department's policy
        may hand it out at once; the note is kept as an internal note."""
        ticket = await moving.transfer(
            agent,
            ticket_id,
            department=body.department,
            agent_id=body.agent_id,
            note=body.note,
        )
        return TicketView.of(ticket)

    @router.post("/v1/tickets/{ticket_id}/assign", tags=["tickets"])
    async def assign_ticket(agent: SignedIn, ticket_id: TicketId, body: AssignBody) -> TicketView:
        """Give the ticket to an agent, over anyone's claim (supervisors). The previous
        holder's place is given back; the new holder's capacity holds."""
        return TicketView.of(await moving.assign(agent, ticket_id, body.agent_id))

    @router.post("/v1/threads/{thread_id}/takeover", tags=["threads"])
    async def take_over_thread(agent: SignedIn, thread_id: ThreadId) -> TicketView:
        """Step into a conversation the AI owns (supervisors; agents of its department where
        `HUMAN_QUEUE_TAKEOVER_BY_AGENTS` allows): the thread becomes yours with a
        conversation ticket you hold, and a reply the AI finishes afterwards waits as a
        draft for approval instead of being sent."""
        return TicketView.of(await moving.take_over(agent, thread_id))

    return router
