"""The agent API's internal notes on tickets.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from baton_contracts import MAX_TEXT_LENGTH

from ..domain import Agent
from ..usecases.notes import Notes
from .auth import Auth
from .team_views import NoteList, NoteView
from .tickets import FIT_TEXT, TicketId

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    403: {"description": "A ticket of a department the agent does not serve"},
    404: {"description": "Unknown ticket"},
    422: {"description": "Invalid body"},
}


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT_LENGTH,
        description="The note, for the team only: the user and the AI never see it.",
        json_schema_extra=FIT_TEXT,
    )


def notes_router(auth: Auth, *, notes: Notes) -> APIRouter:
    router = APIRouter(prefix="/v1/tickets", tags=["notes"], responses=ERRORS)
    SignedIn = Annotated[Agent, Depends(auth.agent)]  # noqa: N806 - a type alias

    @router.post("/{ticket_id}/notes", status_code=status.HTTP_201_CREATED)
    async def add_note(agent: SignedIn, ticket_id: TicketId, body: NoteBody) -> NoteView:
        """Add an internal note to a ticket you may see, in any status. It shows with the
        ticket and the thread for agents only: never in the user's thread, in `message.sent`
        or in what the AI is given."""
        return NoteView.of(await notes.write(agent, ticket_id, body.text))

    @router.get("/{ticket_id}/notes")
    async def list_ticket_notes(agent: SignedIn, ticket_id: TicketId) -> NoteList:
        """The ticket's internal notes, oldest first (the latest 200)."""
        return NoteList(notes=[NoteView.of(n) for n in await notes.for_ticket(agent, ticket_id)])

    return router
