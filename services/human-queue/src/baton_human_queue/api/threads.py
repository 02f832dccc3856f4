"""The agent API's thread routes: a thread's messages and who owned it.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from baton_contracts import THREAD_ID_PATTERN

from ..domain import Agent
from ..usecases import Reading
from ..usecases.notes import Notes
from .auth import Auth
from .team_views import NoteView
from .views import MessageView, OwnershipChange, ThreadMessages, ThreadOwnership, ThreadView

ThreadId = Annotated[str, Path(pattern=THREAD_ID_PATTERN, description="The thread's id.")]

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid token"},
    403: {"description": "A thread of a department the agent does not serve"},
    404: {"description": "Unknown thread"},
}


def threads_router(auth: Auth, *, reading: Reading, notes: Notes | None = None) -> APIRouter:
    router = APIRouter(prefix="/v1/threads", tags=["threads"], responses=ERRORS)
    SignedIn = Annotated[Agent, Depends(auth.agent)]  # noqa: N806 - a type alias

    @router.get("/{thread_id}/messages")
    async def get_thread_messages(
        agent: SignedIn,
        thread_id: ThreadId,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> ThreadMessages:
        """Every message of the thread, oldest first, tool traffic and drafts included, and
        the team's internal notes on its tickets (`notes`, never shown to the user)."""
        thread, messages = await reading.thread_messages(agent, thread_id, limit=limit)
        internal = await notes.of_thread(agent, thread_id, thread.department) if notes else []
        return ThreadMessages(
            thread=ThreadView.of(thread),
            messages=[MessageView.of(m) for m in messages],
            notes=[NoteView.of(n) for n in internal],
        )

    @router.get("/{thread_id}/ownership")
    async def get_thread_ownership(agent: SignedIn, thread_id: ThreadId) -> ThreadOwnership:
        """Who owned the thread, and when: each change of owner (the AI, people, an
        agent), oldest first, with its reason."""
        changes = await reading.ownership(agent, thread_id)
        return ThreadOwnership(
            thread_id=thread_id, changes=[OwnershipChange.of(c) for c in changes]
        )

    return router
