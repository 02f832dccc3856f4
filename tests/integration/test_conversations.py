"""The conversation core on the real MongoDB-wire server: positions, windows, replays,
interrupted writes, drafts, and ownership changes with their events."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import MessageReceived, ThreadAssigned
from baton_conversations import Because, Conversations, Message, UnknownThreadError
from baton_conversations._mongo import RECENT
from baton_runtime import Document, MongoSettings, publishing
from tests.support.commands import CommandCounter, counting_client
from tests.support.memory import DeadPublisher, MemoryPublisher


@pytest.fixture
def publisher() -> MemoryPublisher:
    return MemoryPublisher()


@pytest.fixture
async def core(db: AsyncDatabase[Document], publisher: MemoryPublisher) -> Conversations:
    conversations = Conversations(db, publisher)
    await conversations.ensure_indexes()
    return conversations


@pytest.fixture
async def counted(
    db: AsyncDatabase[Document], mongo_settings: MongoSettings
) -> AsyncIterator[tuple[Conversations, CommandCounter]]:
    """The core in another process, as far as caches go, with its commands counted."""
    client, counter = counting_client(mongo_settings)
    yield Conversations(client[db.name], MemoryPublisher()), counter
    await client.close()


async def new_thread(core: Conversations) -> str:
    thread = await core.open_thread(user_id="u", channel="web", department=None, metadata={})
    return thread.thread_id


def message(thread_id: str, text: str, *, visible: bool = True) -> Message:
    return Message(
        message_id=uuid.uuid4(),
        thread_id=thread_id,
        role="user",
        content=text,
        visible_to_user=visible,
    )


async def texts(core: Conversations, thread_id: str, limit: int = 50, **kwargs: bool) -> list[str]:
    return [m.text for m in await core.window(thread_id, limit=limit, **kwargs)]


async def test_messages_take_positions_in_order_and_the_window_is_the_latest(
    core: Conversations,
) -> None:
    t = await new_thread(core)
    stored = [(await core.append(message(t, f"m{i}"))).message for i in range(5)]
    assert [m.seq for m in stored] == [1, 2, 3, 4, 5]
    assert await texts(core, t, limit=3) == ["m2", "m3", "m4"]
    assert await core.window("no-such-thread", limit=3) == []


async def test_a_message_needs_its_thread(core: Conversations) -> None:
    with pytest.raises(UnknownThreadError):
        await core.append(message("no-such-thread", "hi"))


async def test_older_messages_than_the_thread_lists_are_still_read(core: Conversations) -> None:
    t = await new_thread(core)
    for i in range(RECENT + 5):
        await core.append(message(t, f"m{i}"))
    window = await texts(core, t, limit=RECENT + 3)
    assert window == [f"m{i}" for i in range(2, RECENT + 5)]


async def test_visible_only_reads_further_back_to_fill_the_window(core: Conversations) -> None:
    t = await new_thread(core)
    await core.append(message(t, "seen 1"))
    await core.append(message(t, "seen 2"))
    for i in range(RECENT):
        await core.append(message(t, f"hidden {i}", visible=False))
    assert await texts(core, t, limit=2, visible_only=True) == ["seen 1", "seen 2"]


async def test_a_replayed_message_is_stored_once_and_keeps_its_first_content(
    core: Conversations, publisher: MemoryPublisher
) -> None:
    t = await new_thread(core)
    first = message(t, "hi")
    announce = [MessageReceived.first(thread_id=t, message_id=first.message_id, text="hi")]
    stored = await core.append(first, announce=announce)
    again = await core.append(
        Message(**{**first.__dict__, "content": "changed"}), announce=announce
    )
    assert (stored.created, again.created) == (True, False)
    assert again.message.text == "hi"
    assert again.message.seq == stored.message.seq
    assert publisher.published == announce  # announced once
    assert await texts(core, t) == ["hi"]  # listed once, whatever position the replay took


async def test_a_position_whose_insert_never_happened_stays_unused(
    core: Conversations, db: AsyncDatabase[Document]
) -> None:
    t = await new_thread(core)
    lost = message(t, "lost")
    # What a writer that stopped between the two writes left: the id listed, no message.
    await db["threads"].update_one(
        {"_id": t}, {"$inc": {"last_seq": 1}, "$push": {"recent": str(lost.message_id)}}
    )
    stored = await core.append(lost)
    assert stored.created
    assert stored.message.seq == 2
    assert await texts(core, t) == ["lost"]


async def test_concurrent_writers_take_distinct_positions(core: Conversations) -> None:
    t = await new_thread(core)
    others = [Conversations(core._threads.database, MemoryPublisher()) for _ in range(3)]
    results = await asyncio.gather(
        *(writer.append(message(t, f"m{i}")) for i, writer in enumerate(others * 4))
    )
    assert sorted(r.message.seq for r in results) == list(range(1, 13))
    assert len(await texts(core, t)) == 12


async def test_a_second_read_fetches_only_what_is_new(
    core: Conversations, counted: tuple[Conversations, CommandCounter]
) -> None:
    reader, counter = counted
    t = await new_thread(core)
    for i in range(10):
        await core.append(message(t, f"m{i}"))
    assert len(await reader.window(t, limit=10)) == 10
    # the thread (which lists its latest messages), then those messages in one command
    assert counter.commands == ["find threads", "find messages"]

    counter.commands.clear()
    await core.append(message(t, "m10"))
    assert await texts(reader, t, limit=3) == ["m8", "m9", "m10"]
    assert counter.commands == ["find threads", "find messages"]  # the one new message


async def test_appending_costs_two_commands_to_a_caller_that_read_the_thread(
    core: Conversations, counted: tuple[Conversations, CommandCounter]
) -> None:
    writer, counter = counted
    t = await new_thread(core)
    thread = await writer.require_thread(t)
    counter.commands.clear()
    await writer.append(message(t, "hi"), thread=thread)
    await writer.append(message(t, "and more"), thread=thread)
    # each: the message at the next position, then the thread lists it
    assert counter.commands == ["insert messages", "update threads"] * 2
    assert [m.seq for m in await writer.window(t, limit=5)] == [1, 2]


async def test_concurrent_appends_share_their_commands(
    core: Conversations, counted: tuple[Conversations, CommandCounter]
) -> None:
    writer, counter = counted
    threads = [await core.require_thread(await new_thread(core)) for _ in range(6)]
    counter.commands.clear()
    await asyncio.gather(*(writer.append(message(t.thread_id, "hi"), thread=t) for t in threads))
    # The first insert and listing go at once; those that arrive meanwhile share the next.
    assert counter.commands.count("insert messages") <= 2
    assert counter.commands.count("update threads") <= 2


async def test_a_draft_is_read_afresh_until_it_is_settled(core: Conversations) -> None:
    t = await new_thread(core)
    draft = Message(
        message_id=uuid.uuid4(),
        thread_id=t,
        role="assistant",
        content="draft text",
        status="pending_approval",
        visible_to_user=False,
    )
    await core.append(draft)
    assert await texts(core, t, visible_only=True) == []

    settled = await core.settle_draft(
        draft.message_id, {"status": "approved", "content": "edited", "visible_to_user": True}
    )
    assert settled is not None
    assert (settled.status, settled.text) == ("approved", "edited")
    assert await texts(core, t, visible_only=True) == ["edited"]
    # Settled once: a second decision finds nothing pending.
    assert await core.settle_draft(draft.message_id, {"status": "rejected"}) is None


async def test_an_ownership_change_is_written_and_announced_once(
    core: Conversations, publisher: MemoryPublisher
) -> None:
    t = await new_thread(core)
    cause = MessageReceived.first(thread_id=t, message_id=uuid.uuid4(), text="I want a person")
    because = Because.of(cause, "thread.assigned")
    thread = await core.require_thread(t)

    event = await core.assign(thread, owner="human", agent_id=None, reason="asked", because=because)
    again = await core.assign(thread, owner="human", agent_id=None, reason="asked", because=because)

    assert event is not None
    assert (event.owner, event.previous_owner, event.event_id) == ("human", "ai", because.event_id)
    assert again is None
    assert publisher.of_type(ThreadAssigned) == [event]
    after = await core.require_thread(t)
    assert (after.owner, after.assigned_agent) == ("human", None)


async def test_an_ownership_change_applies_to_the_owner_as_it_is_now(
    core: Conversations, publisher: MemoryPublisher
) -> None:
    t = await new_thread(core)
    stale = await core.require_thread(t)
    cause = MessageReceived.first(thread_id=t, message_id=uuid.uuid4(), text="x")
    await core.assign(
        stale, owner="human", agent_id="agent-1", reason="claimed", because=Because.of(cause, "a")
    )
    # A writer that read the thread before that change: its event names the real previous
    # owner, and a change meant for the AI's thread only is not made.
    moved = await core.assign(
        stale, owner="human", agent_id="agent-2", reason="taken", because=Because.of(cause, "b")
    )
    skipped = await core.assign(
        stale,
        owner="human",
        agent_id=None,
        reason="hand-off",
        because=Because.of(cause, "c"),
        only_from="ai",
    )
    assert moved is not None
    assert (moved.previous_owner, moved.agent_id) == ("human", "agent-2")
    assert skipped is None
    assert (await core.require_thread(t)).assigned_agent == "agent-2"


async def test_a_thread_moves_to_another_department_and_keeps_the_rest(
    core: Conversations,
) -> None:
    t = await new_thread(core)
    await core.append(message(t, "hello"))
    before = await core.require_thread(t)

    moved = await core.set_department(t, "billing")
    again = await core.set_department(t, "billing")

    assert (moved.department, again.department) == ("billing", "billing")
    after = await core.require_thread(t)
    assert after.department == "billing"
    assert (after.owner, after.last_seq, after.recent) == (
        before.owner,
        before.last_seq,
        before.recent,
    )
    with pytest.raises(UnknownThreadError):
        await core.set_department("no-such-thread", "billing")


async def test_a_message_stored_but_not_listed_is_listed_by_its_replay(
    core: Conversations, db: AsyncDatabase[Document]
) -> None:
    t = await new_thread(core)
    lost = message(t, "stored, then the writer stopped")
    # What a writer that stopped between its two writes left: the message, unlisted.
    await db["messages"].insert_one(replace(lost, seq=1).to_document())
    assert await texts(core, t) == []

    again = await core.append(lost)
    assert not again.created
    assert await texts(core, t) == ["stored, then the writer stopped"]


async def test_the_sweep_lists_and_announces_what_a_crash_left(
    db: AsyncDatabase[Document], publisher: MemoryPublisher
) -> None:
    dying = Conversations(db, DeadPublisher())
    t = (await dying.open_thread(user_id="u", channel=None, department=None, metadata={})).thread_id
    said = message(t, "hello")
    event = MessageReceived.first(thread_id=t, message_id=said.message_id, text="hello")
    # The message and its follow-ups (its listing first), as a crash right after the insert
    # left them.
    listing = Conversations._listing(t, 1, str(said.message_id))
    await db["messages"].insert_one(
        {
            **replace(said, seq=1).to_document(),
            **dying._outbox.fields([listing, publishing(event)]),
        }
    )
    sweeper = Conversations(db, publisher)
    assert await sweeper.sweep(older_than=timedelta(0)) == 1
    assert await texts(sweeper, t) == ["hello"]
    assert publisher.published == [event]
