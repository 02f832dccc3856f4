"""Internal notes on tickets: what agents write for each other, never for the user.

Notes live in the queue's own collection (``ticket_notes``), not among the thread's
messages, so nothing that reads the thread for the user or the model (ingest's thread API,
``message.sent``, the AI's prompt) can ever come across one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict

from .domain import Agent


class NoteAuthor(BaseModel):
    """Who wrote a note: the agent's id and its name at the time."""

    model_config = ConfigDict(frozen=True)

    agent_id: str
    name: str

    @classmethod
    def of(cls, agent: Agent) -> NoteAuthor:
        return cls(agent_id=agent.agent_id, name=agent.name)


class Note(BaseModel):
    model_config = ConfigDict(frozen=True)

    note_id: uuid.UUID
    ticket_id: str
    thread_id: str
    department: str | None
    """The ticket's department when the note was written: who may read it."""
    author: NoteAuthor
    text: str
    created_at: AwareDatetime


def may_read_note(agent: Agent, note: Note) -> bool:
    """A note is read by whoever may see its ticket: the agents of its department."""
    return agent.serves(note.department)


class NoteStore(Protocol):
    async def add(self, note: Note) -> Note:
        """Store ``note`` once: a note with its id stored already is returned as stored."""
        ...

    async def of_ticket(self, ticket_id: str, *, limit: int) -> list[Note]:
        """The ticket's latest ``limit`` notes, oldest first."""
        ...

    async def of_thread(self, thread_id: str, *, limit: int) -> list[Note]:
        """The latest ``limit`` notes of the thread's tickets, oldest first."""
        ...


def note_at(now: datetime) -> datetime:
    # MongoDB keeps milliseconds: a note read back must equal the one written.
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
