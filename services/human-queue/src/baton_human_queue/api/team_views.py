"""What the API answers with about the team's own words: internal notes and canned
replies."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal, Self

from pydantic import BaseModel, Field

from ..canned import CannedResponse, placeholders
from ..notes import Note
from ..usecases.canned import RenderedCanned

INTERNAL = "An internal note for the team: never shown to the user, never given to the AI."


class NoteAuthorView(BaseModel):
    agent_id: str
    name: str


class NoteView(BaseModel):
    note_id: uuid.UUID
    internal: Literal[True] = Field(default=True, description=INTERNAL)
    ticket_id: str
    thread_id: str
    author: NoteAuthorView
    text: str
    created_at: datetime

    @classmethod
    def of(cls, note: Note) -> Self:
        return cls(
            note_id=note.note_id,
            ticket_id=note.ticket_id,
            thread_id=note.thread_id,
            author=NoteAuthorView(agent_id=note.author.agent_id, name=note.author.name),
            text=note.text,
            created_at=note.created_at,
        )


class NoteList(BaseModel):
    notes: list[NoteView] = Field(description="Oldest first.")


class CannedView(BaseModel):
    canned_id: str
    department: str | None = Field(description="Null: a reply for every department.")
    shortcut: str
    title: str
    text: str = Field(description="The template, with its placeholders.")
    placeholders: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, canned: CannedResponse) -> Self:
        return cls(
            canned_id=canned.canned_id,
            department=canned.department,
            shortcut=canned.shortcut,
            title=canned.title,
            text=canned.text,
            placeholders=placeholders(canned.text),
            created_at=canned.created_at,
            updated_at=canned.updated_at,
        )


class CannedList(BaseModel):
    canned_responses: list[CannedView]


class RenderedCannedView(BaseModel):
    canned_id: str
    department: str | None
    shortcut: str
    title: str
    text: str = Field(description="Filled in for the ticket's thread and for you.")
    missing: list[str] = Field(
        description="Placeholders the thread has no value for: they are left empty."
    )

    @classmethod
    def of(cls, found: RenderedCanned) -> Self:
        return cls(
            canned_id=found.canned.canned_id,
            department=found.canned.department,
            shortcut=found.canned.shortcut,
            title=found.canned.title,
            text=found.rendered.text,
            missing=found.rendered.missing,
        )


class RenderedCannedList(BaseModel):
    ticket_id: str
    canned_responses: list[RenderedCannedView]
