"""Internal notes: an agent adds one to a ticket it may see; other code (a transfer, say)
adds one in its own name through :meth:`Notes.add`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from baton_contracts import utc_now

from ..domain import Agent, check_text, check_thread_visible
from ..notes import Note, NoteAuthor, NoteStore, may_read_note, note_at
from ..ports import TicketStore
from ..tickets import TicketBase
from ._common import visible

MAX_NOTES_SHOWN = 200
"""Notes shown with a ticket or a thread: the latest ones."""


class Notes:
    def __init__(
        self,
        *,
        notes: NoteStore,
        tickets: TicketStore,
        max_length: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._notes = notes
        self._tickets = tickets
        self._max_length = max_length
        self._now = clock

    async def write(self, agent: Agent, ticket_id: str, text: str) -> Note:
        """``agent``'s note on a ticket it may see, in any status: a note after the
        resolution is still worth keeping."""
        check_text(text, max_length=self._max_length, what="the note")
        ticket = await visible(self._tickets, agent, ticket_id)
        return await self.add(ticket=ticket, author=NoteAuthor.of(agent), text=text)

    async def add(
        self,
        *,
        ticket: TicketBase,
        author: NoteAuthor,
        text: str,
        note_id: uuid.UUID | None = None,
    ) -> Note:
        """Keep ``text`` as an internal note on ``ticket``, without checking who may see it:
        for code that has decided that already (a transfer's note). A ``note_id`` derived
        from what caused the note makes a repeat (a replayed follow-up) store it once."""
        check_text(text, max_length=self._max_length, what="the note")
        note = Note(
            note_id=note_id or uuid.uuid4(),
            ticket_id=ticket.ticket_id,
            thread_id=ticket.thread_id,
            department=ticket.department,
            author=author,
            text=text,
            created_at=note_at(self._now()),
        )
        return await self._notes.add(note)

    async def of_ticket(self, agent: Agent, ticket: TicketBase) -> list[Note]:
        """The notes of a ticket the caller has already found ``agent`` may see."""
        found = await self._notes.of_ticket(ticket.ticket_id, limit=MAX_NOTES_SHOWN)
        return [n for n in found if may_read_note(agent, n)]

    async def of_thread(self, agent: Agent, thread_id: str, department: str | None) -> list[Note]:
        """The notes of every ticket of a thread the caller has already found ``agent``
        may read; a note of a ticket of another department stays hidden."""
        check_thread_visible(agent, thread_id, department)
        found = await self._notes.of_thread(thread_id, limit=MAX_NOTES_SHOWN)
        return [n for n in found if may_read_note(agent, n)]

    async def for_ticket(self, agent: Agent, ticket_id: str) -> list[Note]:
        ticket = await visible(self._tickets, agent, ticket_id)
        return await self.of_ticket(agent, ticket)
