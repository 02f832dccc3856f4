"""Internal notes: who may write and read them, and that other code adds one once."""

from __future__ import annotations

import uuid

import pytest

from baton_human_queue.domain import InvalidTextError, UnknownTicketError, WrongDepartmentError
from baton_human_queue.notes import NoteAuthor
from baton_human_queue.usecases.notes import Notes
from tests.support.queue_memory import MemoryNotes

from .conftest import ALEX, BO, SAM, Queue


@pytest.fixture
def notes(queue: Queue) -> Notes:
    return Notes(notes=MemoryNotes(), tickets=queue.tickets, max_length=50, clock=queue.clock)


async def test_anyone_who_may_see_the_ticket_writes_and_reads_its_notes(
    queue: Queue, notes: Notes
) -> None:
    ticket = await queue.conversation()  # pending: no one holds it
    first = await notes.write(SAM, ticket.ticket_id, "Customer called twice.")
    queue.clock.advance(seconds=1)
    await notes.write(ALEX, ticket.ticket_id, "Refund approved by finance.")

    found = await notes.for_ticket(ALEX, ticket.ticket_id)
    assert [(n.author.name, n.text) for n in found] == [
        ("Sam", "Customer called twice."),
        ("Alex", "Refund approved by finance."),
    ]
    assert (first.author, first.thread_id, first.department) == (
        NoteAuthor(agent_id=SAM.agent_id, name="Sam"),
        ticket.thread_id,
        "billing",
    )
    with pytest.raises(WrongDepartmentError):
        await notes.write(BO, ticket.ticket_id, "not mine")
    with pytest.raises(WrongDepartmentError):
        await notes.for_ticket(BO, ticket.ticket_id)
    with pytest.raises(UnknownTicketError):
        await notes.write(ALEX, "no-such-ticket", "x")


async def test_a_note_follows_the_text_rules(queue: Queue, notes: Notes) -> None:
    ticket = await queue.conversation()
    for text in ("   ", "x" * 51, "NUL \x00", "lone \ud800"):
        with pytest.raises(InvalidTextError):
            await notes.write(ALEX, ticket.ticket_id, text)
    assert await notes.for_ticket(ALEX, ticket.ticket_id) == []
    await notes.write(ALEX, ticket.ticket_id, "tabs\tand\nlines are fine")


async def test_a_resolved_ticket_still_takes_notes(queue: Queue, notes: Notes) -> None:
    claimed = await queue.claimed()
    await queue.holder.resolve(ALEX, claimed.ticket_id, "ai")
    await notes.write(ALEX, claimed.ticket_id, "Followed up by mail.")
    assert len(await notes.for_ticket(ALEX, claimed.ticket_id)) == 1


async def test_other_code_adds_a_note_once_by_its_id(queue: Queue, notes: Notes) -> None:
    ticket = await queue.conversation()
    note_id = uuid.uuid4()
    author = NoteAuthor(agent_id="agent-sup", name="Supervisor")
    first = await notes.add(ticket=ticket, author=author, text="Transferred: VIP", note_id=note_id)
    queue.clock.advance(seconds=5)
    again = await notes.add(ticket=ticket, author=author, text="Transferred: VIP", note_id=note_id)
    assert again == first
    assert len(await notes.for_ticket(ALEX, ticket.ticket_id)) == 1


async def test_a_threads_notes_are_those_of_its_tickets_the_agent_may_see(
    queue: Queue, notes: Notes
) -> None:
    claimed = await queue.claimed()
    await notes.write(ALEX, claimed.ticket_id, "on the first ticket")
    await queue.holder.resolve(ALEX, claimed.ticket_id, "none")
    thread = await queue.conversations.require_thread(claimed.thread_id)
    found = await notes.of_thread(ALEX, thread.thread_id, thread.department)
    assert [n.text for n in found] == ["on the first ticket"]
    with pytest.raises(WrongDepartmentError):
        await notes.of_thread(BO, thread.thread_id, thread.department)
