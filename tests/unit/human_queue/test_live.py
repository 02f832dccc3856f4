"""The live console without I/O: who hears of which change, bounded stream queues, the feed
over a fake change source, stream tickets and the re-check against missed changes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest

from baton_human_queue.domain import Agent
from baton_human_queue.live.access import (
    Recheck,
    StoredStreamTicket,
    StreamAccess,
    hash_ticket,
)
from baton_human_queue.live.feed import TicketFeed
from baton_human_queue.live.hub import (
    Hub,
    LiveEvent,
    Resync,
    Stream,
    TicketChange,
    TooManyStreamsError,
    encode,
    may_see,
)
from baton_runtime import ApiError

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ALEX = Agent(agent_id="agent-alex", name="Alex", departments=("billing",))
SAM = Agent(agent_id="agent-sam", name="Sam", departments=("support",))
BOSS = Agent(agent_id="agent-boss", name="Boss", departments=("support",), role="supervisor")


def change(
    ticket_id: str = "t1",
    *,
    department: str | None = "billing",
    holder_id: str | None = None,
    at: datetime = T0,
    created: datetime | None = None,
    status: str = "pending",
) -> TicketChange:
    return TicketChange(
        ticket_id=ticket_id,
        thread_id=f"thread-{ticket_id}",
        kind="conversation",
        status=status,  # type: ignore[arg-type]
        department=department,
        holder_id=holder_id,
        created_at=created or at,
        updated_at=at,
    )


def drain(stream: Stream) -> list[LiveEvent]:
    taken: list[LiveEvent] = []
    while (event := stream.take()) is not None:
        taken.append(event)
    return taken


def ids(stream: Stream) -> list[str]:
    return [e.ticket_id for e in drain(stream) if isinstance(e, TicketChange)]


# ------------------------------------------------------------------ who hears of what


def test_an_agent_hears_of_its_departments_tickets_and_of_those_without_one() -> None:
    assert may_see(ALEX, change(department="billing"))
    assert may_see(ALEX, change(department=None))
    assert not may_see(ALEX, change(department="support"))


def test_an_agent_hears_of_a_ticket_it_holds_whatever_its_department() -> None:
    assert may_see(ALEX, change(department="support", holder_id=ALEX.agent_id))
    assert not may_see(ALEX, change(department="support", holder_id=SAM.agent_id))


def test_a_supervisor_hears_of_every_department() -> None:
    assert may_see(BOSS, change(department="billing"))


def test_the_hub_offers_a_change_only_to_the_streams_that_may_see_it() -> None:
    hub = Hub(per_agent=5, total=10, queue_size=10)
    alex = hub.open(ALEX, token_hash="a")
    sam = hub.open(SAM, token_hash="s")
    assert hub.publish(change("t1", department="billing")) == 1
    assert hub.publish(change("t2", department="support")) == 1
    assert ids(alex) == ["t1"]
    assert ids(sam) == ["t2"]


def test_a_stream_filters_by_what_its_agent_may_see_now() -> None:
    hub = Hub(per_agent=5, total=10, queue_size=10)
    stream = hub.open(ALEX, token_hash="a")
    stream.agent = replace(ALEX, departments=("billing", "support"))  # a re-check's update
    hub.publish(change(department="support"))
    assert len(drain(stream)) == 1


def test_a_ticket_event_says_what_changed() -> None:
    created = encode(change("t1", at=T0))
    updated = encode(change("t1", at=T0 + timedelta(seconds=1), created=T0, holder_id="a"))
    assert created.startswith(b"event: ticket\ndata: ")
    assert created.endswith(b"\n\n")
    first = json.loads(created.split(b"data: ", 1)[1])
    second = json.loads(updated.split(b"data: ", 1)[1])
    assert first["change"] == "created"
    assert second["change"] == "updated"
    assert second["ticket_id"] == "t1"
    assert second["thread_id"] == "thread-t1"
    assert second["holder_id"] == "a"
    assert second["kind"] == "conversation"


# ------------------------------------------------------------------ bounded streams


def test_a_slow_stream_keeps_at_most_its_limit_then_one_resync() -> None:
    hub = Hub(per_agent=5, total=10, queue_size=3)
    stream = hub.open(ALEX, token_hash="a")
    for i in range(3):
        hub.publish(change(f"t{i}"))
    assert stream.waiting == 3
    for i in range(3, 1000):
        hub.publish(change(f"t{i}"))
    # A thousand hints later, one resync waits, nothing else.
    assert stream.waiting == 1
    assert drain(stream) == [Resync("overflow")]
    # Read again, the stream takes hints as before.
    hub.publish(change("after"))
    assert ids(stream) == ["after"]


def test_streams_are_bounded_per_agent_and_in_all() -> None:
    hub = Hub(per_agent=2, total=3, queue_size=3)
    first = hub.open(ALEX, token_hash="a")
    hub.open(ALEX, token_hash="a")
    with pytest.raises(TooManyStreamsError) as refused:
        hub.open(ALEX, token_hash="a")
    assert (refused.value.status, refused.value.code) == (429, "too_many_streams")
    hub.open(SAM, token_hash="s")
    with pytest.raises(TooManyStreamsError):
        hub.open(BOSS, token_hash="b")
    hub.close(first)
    hub.close(first)  # closing twice gives back one place only
    hub.open(ALEX, token_hash="a")
    assert hub.open_streams == 3


async def test_a_stream_waits_for_the_next_hint_or_times_out() -> None:
    stream = Stream(agent=ALEX, token_hash="a", limit=3)
    assert await stream.next(0.01) is None
    stream.offer(change())
    assert isinstance(await stream.next(0.01), TicketChange)


# ------------------------------------------------------------------ the feed


@dataclass
class FakeChanges:
    versions: list[TicketChange] = field(default_factory=list)
    failing: bool = False

    async def changed_since(self, since: datetime, *, limit: int) -> list[TicketChange]:
        if self.failing:
            raise ConnectionError("mongodb is away")
        found = sorted((c for c in self.versions if c.updated_at >= since), key=_stamp)
        return found[:limit]

    async def newest(self) -> datetime | None:
        return max((c.updated_at for c in self.versions), default=None)


def _stamp(c: TicketChange) -> datetime:
    return c.updated_at


async def started_feed(
    source: FakeChanges, *, batch: int = 100, queue_size: int = 100
) -> tuple[TicketFeed, Hub, Stream]:
    hub = Hub(per_agent=5, total=10, queue_size=queue_size)
    stream = hub.open(ALEX, token_hash="a")
    feed = TicketFeed(source, hub, overlap_s=2.0, batch=batch, clock=lambda: T0)
    await feed()  # the first round finds where to start
    return feed, hub, stream


async def test_the_feed_starts_at_the_newest_change_and_pushes_what_follows() -> None:
    source = FakeChanges([change("old", at=T0 - timedelta(hours=1))])
    feed, _, stream = await started_feed(source)
    assert drain(stream) == []
    source.versions.append(change("new", at=T0))
    await feed()
    assert ids(stream) == ["new"]


async def test_the_feed_pushes_each_version_once_despite_its_overlap() -> None:
    source = FakeChanges()
    feed, _, stream = await started_feed(source)
    source.versions.append(change("t1", at=T0 + timedelta(seconds=1)))
    await feed()
    await feed()
    source.versions.append(change("t1", at=T0 + timedelta(seconds=2)))
    await feed()
    assert len(drain(stream)) == 2


async def test_the_feed_finds_a_write_stored_late_with_an_older_stamp() -> None:
    source = FakeChanges()
    feed, _, stream = await started_feed(source)
    source.versions.append(change("t1", at=T0 + timedelta(seconds=5)))
    await feed()
    # Stamped a second earlier by another instance, stored after the read above.
    source.versions.append(change("t2", at=T0 + timedelta(seconds=4)))
    await feed()
    assert ids(stream) == ["t1", "t2"]


async def test_a_burst_larger_than_a_read_makes_every_stream_resync() -> None:
    source = FakeChanges()
    feed, _, stream = await started_feed(source, batch=10)
    source.versions += [change(f"t{i}", at=T0 + timedelta(milliseconds=i)) for i in range(10)]
    await feed()
    assert drain(stream) == [Resync("burst")]
    assert feed.high_water == T0 + timedelta(milliseconds=9)


async def test_after_failing_reads_the_feed_makes_every_stream_resync() -> None:
    source = FakeChanges()
    feed, _, stream = await started_feed(source)
    source.failing = True
    with pytest.raises(ConnectionError):
        await feed()
    source.failing = False
    await feed()
    assert drain(stream) == [Resync("feed_recovered")]


# ------------------------------------------------------------------ stream tickets


@dataclass
class FakeStreamTickets:
    stored: dict[str, StoredStreamTicket] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    async def add(self, ticket_hash: str, ticket: StoredStreamTicket, *, now: datetime) -> None:
        self.stored[ticket_hash] = ticket

    async def use(self, ticket_hash: str, *, now: datetime) -> StoredStreamTicket | None:
        if ticket_hash not in self.stored or ticket_hash in self.used:
            return None
        self.used.add(ticket_hash)
        return self.stored[ticket_hash]

    async def known(self, ticket_hash: str) -> bool:
        return ticket_hash in self.stored


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


def access_with(agents: dict[str, Agent]) -> tuple[StreamAccess, FakeStreamTickets, Clock]:
    async def by_hash(token_hash: str) -> Agent | None:
        return agents.get(token_hash)

    store, clock = FakeStreamTickets(), Clock()
    return StreamAccess(store, by_hash, ttl_s=30, clock=clock), store, clock


async def refused(access: StreamAccess, ticket: str | None, caller: Agent | None = None) -> str:
    with pytest.raises(ApiError) as raised:
        await access.redeem(ticket, caller=caller)
    return f"{raised.value.status} {raised.value.code}"


async def test_a_stream_ticket_is_random_bound_to_its_agent_and_stored_hashed() -> None:
    access, store, _ = access_with({"hash-a": ALEX})
    one = await access.issue(ALEX, token_hash="hash-a")
    two = await access.issue(ALEX, token_hash="hash-a")
    assert one.ticket != two.ticket
    assert one.ticket.startswith("bqs_")
    assert one.ticket not in store.stored
    assert hash_ticket(one.ticket) in store.stored
    assert one.expires_at == T0 + timedelta(seconds=30)
    assert await access.redeem(one.ticket, caller=None) == (ALEX, "hash-a")


async def test_stream_tickets_are_refused_missing_unknown_used_expired_or_for_another() -> None:
    access, _, clock = access_with({"hash-a": ALEX, "hash-s": SAM})
    assert await refused(access, None) == "401 unauthenticated"
    assert await refused(access, "bqs_never-issued") == "401 invalid_stream_ticket"
    assert await refused(access, "bq_an-agent-token") == "401 invalid_stream_ticket"
    used = (await access.issue(ALEX, token_hash="hash-a")).ticket
    await access.redeem(used, caller=None)
    assert await refused(access, used) == "401 stream_ticket_used"
    late = (await access.issue(ALEX, token_hash="hash-a")).ticket
    clock.now = T0 + timedelta(seconds=31)
    assert await refused(access, late) == "401 stream_ticket_expired"
    alexs = (await access.issue(ALEX, token_hash="hash-a")).ticket
    assert await refused(access, alexs, caller=SAM) == "403 stream_ticket_other_agent"


async def test_a_stream_ticket_of_an_agent_deactivated_since_is_refused() -> None:
    agents = {"hash-a": ALEX}
    access, _, _ = access_with(agents)
    ticket = (await access.issue(ALEX, token_hash="hash-a")).ticket
    del agents["hash-a"]
    assert await refused(access, ticket) == "401 invalid_token"


async def test_a_re_check_ends_the_stream_of_a_revoked_agent_and_updates_a_changed_one() -> None:
    agents = {"hash-a": ALEX}
    access, _, _ = access_with(agents)
    stream = Stream(agent=ALEX, token_hash="hash-a", limit=3)
    agents["hash-a"] = replace(ALEX, departments=("billing", "support"))
    assert await access.still_allowed(stream)
    assert stream.agent.departments == ("billing", "support")
    del agents["hash-a"]
    assert not await access.still_allowed(stream)


# ------------------------------------------------------------------ the re-check


@dataclass
class FakeVersions:
    now: dict[str, datetime] | None

    async def open_versions(self, agent: Agent, *, limit: int) -> dict[str, datetime] | None:
        return self.now


async def test_a_re_check_finds_a_change_no_hint_told_of() -> None:
    versions = FakeVersions({"t1": T0})
    recheck = Recheck(versions, limit=100)
    stream = Stream(agent=ALEX, token_hash="a", limit=10)
    missed, previous = await recheck.missed(stream, None, T0)
    assert not missed
    versions.now = {"t1": T0 + timedelta(seconds=1), "t2": T0}
    missed, previous = await recheck.missed(stream, previous, T0 + timedelta(seconds=5))
    assert missed


async def test_a_re_check_is_quiet_when_the_hints_came_or_are_still_on_their_way() -> None:
    versions = FakeVersions({"t1": T0})
    recheck = Recheck(versions, limit=100)
    stream = Stream(agent=ALEX, token_hash="a", limit=10)
    _, previous = await recheck.missed(stream, None, T0)
    stream.offer(change("t1", at=T0 + timedelta(seconds=1)))
    # t1 was told of; t2 changed after the feed's newest change: not missed (yet).
    versions.now = {"t1": T0 + timedelta(seconds=1), "t2": T0 + timedelta(seconds=9)}
    missed, _ = await recheck.missed(stream, previous, T0 + timedelta(seconds=5))
    assert not missed
