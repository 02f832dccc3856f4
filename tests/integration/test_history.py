"""Thread history on the real MongoDB-wire server: positions, the thread's hints, replays and
interrupted writes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from baton_runtime import Document, MongoSettings
from baton_runtime.history import (
    RECENT_POSITIONS,
    Message,
    MongoHistory,
    UnknownThreadError,
)
from tests.support.commands import CommandCounter, counting_client


@pytest.fixture
async def history(db: AsyncDatabase[Document]) -> MongoHistory:
    store = MongoHistory(db)
    await store.ensure_indexes()
    for thread_id in ("t", "t1", "t2"):
        await create(store, thread_id)
    return store


async def create(history: MongoHistory, thread_id: str) -> None:
    await history.create_thread(thread_id, user_id="u", channel=None, department=None, metadata={})


def message(thread_id: str, text: str, *, visible: bool = True) -> Message:
    return Message(
        message_id=uuid.uuid4(),
        thread_id=thread_id,
        role="user",
        content=text,
        visible_to_user=visible,
    )


async def insert_only(db: AsyncDatabase[Document], lost: Message, seq: int) -> None:
    """What a writer that stopped right after storing ``lost`` at ``seq`` left behind: the
    message, and the thread's hints as they were."""
    await db["messages"].insert_one(Message(**{**lost.__dict__, "seq": seq}).to_document())


async def set_hints(
    db: AsyncDatabase[Document], thread_id: str, head: int, recent: dict[int, Message]
) -> None:
    """The thread's hints as a writer that stopped, or a lost update, left them."""
    listed = {str(seq): str(m.message_id) for seq, m in recent.items()}
    await db["threads"].update_one({"_id": thread_id}, {"$set": {"head": head, "recent": listed}})


async def texts(history: MongoHistory, thread_id: str, **kwargs: object) -> list[str]:
    return [m.text for m in await history.messages(thread_id, **kwargs)]  # type: ignore[arg-type]


async def test_messages_come_back_in_order_and_the_window_is_the_latest(
    history: MongoHistory,
) -> None:
    for i in range(1, 8):
        stored, created = await history.append(message("t1", f"m{i}"))
        assert created
        assert stored.seq == i
    await history.append(message("t2", "other thread"))

    assert await texts(history, "t1") == [f"m{i}" for i in range(1, 8)]
    assert await texts(history, "t1", limit=3) == ["m5", "m6", "m7"]
    assert await texts(history, "t2") == ["other thread"]
    assert await texts(history, "nobody") == []


async def test_a_message_needs_its_thread(history: MongoHistory) -> None:
    with pytest.raises(UnknownThreadError):
        await history.append(message("nobody", "hello"))


async def test_the_thread_lists_its_last_positions_and_older_ones_are_still_read(
    history: MongoHistory, db: AsyncDatabase[Document]
) -> None:
    total = RECENT_POSITIONS + 10
    for i in range(1, total + 1):
        await history.append(message("t", f"m{i}"))

    thread = await history.require_thread("t")
    assert thread.head == total
    assert sorted(thread.recent) == list(range(11, total + 1))
    # another process, whose cache knows nothing: the older positions are looked up
    fresh = MongoHistory(db)
    assert await texts(fresh, "t", limit=total) == [f"m{i}" for i in range(1, total + 1)]


async def test_visible_only_reads_further_back_to_fill_the_window(history: MongoHistory) -> None:
    await history.append(message("t", "seen 1"))
    await history.append(message("t", "seen 2"))
    for i in range(5):
        await history.append(message("t", f"hidden {i}", visible=False))

    assert await texts(history, "t", limit=2, user_visible_only=True) == ["seen 1", "seen 2"]
    assert len(await history.messages("t", limit=2)) == 2


async def test_a_replayed_message_is_stored_once(history: MongoHistory) -> None:
    first = message("t", "hello")
    stored, created = await history.append(first)
    again, created_again = await history.append(first)

    assert created
    assert not created_again
    assert again.seq == stored.seq == 1
    assert await texts(history, "t") == ["hello"]


async def test_a_message_stored_before_a_crash_is_found_and_its_replay_moves_the_hints_on(
    history: MongoHistory, db: AsyncDatabase[Document]
) -> None:
    await history.append(message("t", "before"))
    lost = message("t", "interrupted")
    await insert_only(db, lost, 2)
    # a reader that is not handed the thread probes past its head
    assert await texts(MongoHistory(db), "t") == ["before", "interrupted"]

    replayed, created = await MongoHistory(db).append(lost)
    after, _ = await MongoHistory(db).append(message("t", "after"))

    assert not created
    assert replayed.seq == 2
    assert after.seq == 3
    thread = await history.require_thread("t")
    assert thread.head == 3
    assert thread.recent[2] == str(lost.message_id)
    assert await texts(MongoHistory(db), "t") == ["before", "interrupted", "after"]


async def test_a_replay_older_than_the_hints_takes_no_second_position(
    history: MongoHistory, db: AsyncDatabase[Document]
) -> None:
    first, _ = await history.append(message("t", "first"))
    for i in range(RECENT_POSITIONS):
        await history.append(message("t", f"m{i}"))
    before = await history.require_thread("t")

    replayed, created = await MongoHistory(db).append(first)

    assert not created
    assert replayed.seq == 1
    assert await history.require_thread("t") == before
    assert await db["messages"].count_documents({"thread_id": "t"}) == RECENT_POSITIONS + 1


async def test_a_lagging_head_is_stepped_past(
    history: MongoHistory, db: AsyncDatabase[Document]
) -> None:
    appended = [(await history.append(message("t", f"m{i}")))[0] for i in range(4)]
    # a lost update of the thread's hints, or a writer that stopped before it
    await set_hints(db, "t", 1, {1: appended[0]})

    other = MongoHistory(db)  # another process, which has not seen the later positions
    assert await texts(other, "t", limit=2) == ["m2", "m3"]
    stored, _ = await MongoHistory(db).append(message("t", "m4"))
    assert stored.seq == 5
    assert (await history.require_thread("t")).head == 5


async def test_concurrent_writers_take_distinct_positions(history: MongoHistory) -> None:
    results = await asyncio.gather(*(history.append(message("t", f"m{i}")) for i in range(12)))

    seqs = sorted(stored.seq for stored, created in results if created)
    assert seqs == list(range(1, 13))
    assert sorted(await texts(history, "t")) == sorted(f"m{i}" for i in range(12))


@pytest.fixture
async def counted(
    db: AsyncDatabase[Document], mongo_settings: MongoSettings
) -> AsyncIterator[tuple[MongoHistory, CommandCounter]]:
    """A history on a client of its own, whose commands are counted."""
    client, counter = counting_client(mongo_settings)
    yield MongoHistory(client[db.name]), counter
    await client.close()


async def test_a_second_read_fetches_only_what_is_new(
    history: MongoHistory, counted: tuple[MongoHistory, CommandCounter]
) -> None:
    reader, counter = counted  # another process: its cache knows nothing of the writer's
    for i in range(10):
        await history.append(message("t", f"m{i}"))
    assert len(await reader.messages("t", limit=10)) == 10
    # the thread (which lists the positions), the probe past its head, the 10 messages by
    # their ids in one command
    assert counter.commands == ["find threads"] + ["find messages"] * 2

    counter.commands.clear()
    await history.append(message("t", "m10"))
    assert await texts(reader, "t", limit=3) == ["m8", "m9", "m10"]
    # the thread, the probe, the new message
    assert counter.commands == ["find threads"] + ["find messages"] * 2


async def test_a_turn_reads_and_appends_with_the_thread_it_has_read(
    history: MongoHistory, counted: tuple[MongoHistory, CommandCounter]
) -> None:
    ai, counter = counted
    for i in range(3):
        await history.append(message("t", f"m{i}"))
    await ai.messages("t", limit=2)  # an earlier turn: m1 and m2 are known
    question, _ = await history.append(message("t", "question"))

    counter.commands.clear()
    thread = await ai.require_thread("t")
    window = await ai.messages(thread, limit=3)
    reply, created = await ai.append(message("t", "reply"), thread=thread)
    second, _ = await ai.append(message("t", "and more"), thread=thread)

    assert [m.text for m in window] == ["m1", "m2", "question"]
    assert created
    assert (reply.seq, second.seq) == (question.seq + 1, question.seq + 2)
    # the thread, with its last positions; the one message not read before; then for each
    # append the message, which claims its position, and the thread's hints
    assert counter.commands == ["find threads", "find messages"] + (
        ["insert messages", "update threads"] * 2
    )
    assert await texts(history, "t", limit=2) == ["reply", "and more"]

    counter.commands.clear()
    later, created = await ai.append(message("t", "later"), thread=thread)
    again, created_again = await ai.append(reply, thread=await ai.require_thread("t"))
    assert created
    assert later.seq == second.seq + 1
    assert not created_again
    assert again.seq == reply.seq
    # a new message after them; then a replay the thread lists is one read
    assert counter.commands == [
        "insert messages",
        "update threads",
        "find threads",
        "find messages",
    ]


async def test_concurrent_callers_share_their_reads_and_writes(
    history: MongoHistory, counted: tuple[MongoHistory, CommandCounter]
) -> None:
    shared, counter = counted
    names = ("t", "t1", "t2")
    threads = await asyncio.gather(*(shared.require_thread(name) for name in names))
    results = await asyncio.gather(
        *(shared.append(message(t.thread_id, f"to {t.thread_id}"), thread=t) for t in threads)
    )
    same_thread = await asyncio.gather(*(shared.append(message("t", f"m{i}")) for i in range(5)))

    assert [(stored.seq, created) for stored, created in results] == [(1, True)] * 3
    for name in names:
        assert (await texts(history, name))[0] == f"to {name}"
    assert sorted(stored.seq for stored, _ in same_thread) == [2, 3, 4, 5, 6]
    heads = [thread.head for thread in await asyncio.gather(*map(history.require_thread, names))]
    assert heads == [6, 1, 1]
    # the three threads in one read; the three messages in one insert, their hints in one
    # update; then the five appends to one thread, which claim their positions in turn
    assert counter.commands[:3] == ["find threads", "insert messages", "update threads"]


async def test_a_draft_is_read_afresh_until_it_is_decided(history: MongoHistory) -> None:
    draft = Message(
        message_id=uuid.uuid4(),
        thread_id="t",
        role="assistant",
        content="draft text",
        status="pending_approval",
        visible_to_user=False,
    )
    await history.append(draft)
    assert await texts(history, "t") == ["draft text"]

    await history.update_message(
        draft.message_id,
        {"status": "approved", "content": "edited text", "visible_to_user": True},
        status="pending_approval",
    )

    assert await texts(history, "t") == ["edited text"]
    approved = await history.get_message(draft.message_id)
    assert approved is not None
    assert approved.status == "approved"
