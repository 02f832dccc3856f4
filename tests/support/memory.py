"""In-memory stand-ins for Baton's own interfaces (the publisher, dead letters, the
conversation core) and for aiokafka's consumer, for unit tests."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from aiokafka import ConsumerRecord, TopicPartition

from baton_contracts import Event, Owner, ThreadAssigned, ThreadRated, utc_now
from baton_conversations import (
    Announce,
    Appended,
    Because,
    Message,
    RatedVia,
    Refused,
    Thread,
    ThreadRating,
    ThreadResolution,
    UnknownThreadError,
    rating_event,
)
from baton_runtime import Record

E = TypeVar("E", bound=Event)


class MemoryPublisher:
    def __init__(self) -> None:
        self.published: list[Event] = []

    async def publish(self, events: Iterable[Event]) -> None:
        self.published += events

    def of_type(self, event_type: type[E]) -> list[E]:
        return [e for e in self.published if isinstance(e, event_type)]


class DeadPublisher:
    """A publisher whose process dies before the publish."""

    async def publish(self, events: Iterable[Event]) -> None:
        raise ConnectionError("the process died before publishing")


class MemoryDeadLetters:
    def __init__(self) -> None:
        self.letters: list[tuple[Record, str]] = []

    async def send(self, record: Record, *, code: str, reason: str) -> None:
        self.letters.append((record, code))


class MemoryConsumer:
    """aiokafka's consumer as Baton's KeyedConsumer uses it, in memory: records are put on
    partitions with :meth:`put`, a rebalance is played with :meth:`rebalance`, and commits
    and pauses are recorded."""

    def __init__(self, partitions: Iterable[TopicPartition]) -> None:
        self._assigned = set(partitions)
        self._positions: dict[TopicPartition, int] = {p: 0 for p in self._assigned}
        self._logs: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {
            p: [] for p in self._assigned
        }
        self._paused: set[TopicPartition] = set()
        self._arrived = asyncio.Event()
        self._listener: Any = None
        self.commits: list[dict[TopicPartition, int]] = []
        self.committed: dict[TopicPartition, int] = {}
        self.stopped = False

    def subscribe(self, topics: list[str], *, listener: Any) -> None:
        self._listener = listener

    async def start(self) -> None:
        await self._listener.on_partitions_assigned(set(self._assigned))

    async def stop(self) -> None:
        self.stopped = True

    def put(self, partition: TopicPartition, key: bytes, value: bytes = b"{}") -> int:
        log = self._logs.setdefault(partition, [])
        offset = len(log)
        log.append(
            ConsumerRecord(
                partition.topic, partition.partition, offset, 0, 0, key, value, None, 0, 0, []
            )
        )
        self._arrived.set()
        return offset

    async def getmany(
        self, *, timeout_ms: int, max_records: int
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        for _ in range(2):
            taken: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]] = {}
            room = max_records
            for partition in sorted(self._assigned - self._paused):
                log = self._logs.get(partition, [])
                records = log[self._positions[partition] :][:room]
                if records:
                    taken[partition] = records
                    self._positions[partition] += len(records)
                    room -= len(records)
            if taken:
                return taken
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout_ms / 1000)
        return {}

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def paused(self) -> set[TopicPartition]:
        return set(self._paused)

    def pause(self, *partitions: TopicPartition) -> None:
        self._paused |= set(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self._paused -= set(partitions)
        self._arrived.set()

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))
        self.committed.update(offsets)

    def highwater(self, partition: TopicPartition) -> int:
        return len(self._logs.get(partition, []))

    async def position(self, partition: TopicPartition) -> int:
        return self._positions[partition]

    def taken(self, partition: TopicPartition) -> int:
        """How many of the partition's records the consumer has taken so far."""
        return self._positions[partition]

    async def rebalance(self, assignment: Iterable[TopicPartition]) -> None:
        """Revoke every partition (aiokafka's eager protocol), then assign ``assignment``,
        each starting at its committed offset."""
        await self._listener.on_partitions_revoked(set(self._assigned))
        self._assigned = set(assignment)
        self._paused.clear()
        self._positions = {p: self.committed.get(p, 0) for p in self._assigned}
        await self._listener.on_partitions_assigned(set(self._assigned))
        self._arrived.set()


class MemoryConversations:
    """The conversation core in dicts. Announcing events go to ``publisher``; like the
    core's outbox, what a failing publisher could not take waits for :meth:`sweep`."""

    def __init__(self, publisher: Any = None) -> None:
        self.publisher = publisher or MemoryPublisher()
        self.threads: dict[str, Thread] = {}
        self.messages: dict[uuid.UUID, Message] = {}
        self.waiting: list[Event] = []

    async def _announce(self, events: Sequence[Event]) -> None:
        try:
            await self.publisher.publish(events)
        except Exception:
            self.waiting += events

    async def sweep(self) -> int:
        """Publish what waits; how many events went out."""
        waiting, self.waiting = self.waiting, []
        await self._announce(waiting)
        return len(waiting) - len(self.waiting)

    async def open_thread(
        self,
        *,
        user_id: str,
        channel: str | None,
        department: str | None,
        metadata: dict[str, str],
        thread_id: str | None = None,
        gateway_id: str | None = None,
    ) -> Thread:
        if thread_id in self.threads:
            return self.threads[thread_id]
        now = utc_now()
        thread = Thread(
            thread_id=thread_id or uuid.uuid4().hex,
            user_id=user_id,
            channel=channel,
            department=department,
            user_tier=metadata.get("tier"),
            owner="ai",
            assigned_agent=None,
            status="open",
            metadata=dict(metadata),
            created_at=now,
            updated_at=now,
            gateway_id=gateway_id,
        )
        self.threads[thread.thread_id] = thread
        return thread

    async def get_thread(self, thread_id: str) -> Thread | None:
        return self.threads.get(thread_id)

    async def require_thread(self, thread_id: str) -> Thread:
        thread = self.threads.get(thread_id)
        if thread is None:
            raise UnknownThreadError(f"thread {thread_id!r} does not exist")
        return thread

    async def append(
        self, message: Message, *, announce: Announce = (), thread: Thread | None = None
    ) -> Appended:
        earlier = self.messages.get(message.message_id)
        if earlier is not None:
            return Appended(earlier, created=False)
        thread = await self.require_thread(message.thread_id)
        thread = replace(
            thread,
            last_seq=thread.last_seq + 1,
            recent=(*thread.recent, str(message.message_id)),
            updated_at=utc_now(),
        )
        self.threads[thread.thread_id] = thread
        stored = replace(message, seq=thread.last_seq)
        self.messages[stored.message_id] = stored
        await self._announce(announce(thread) if callable(announce) else announce)
        return Appended(stored, created=True, thread=thread)

    async def get_message(self, message_id: uuid.UUID) -> Message | None:
        return self.messages.get(message_id)

    async def window(
        self, thread: Thread | str, *, limit: int, visible_only: bool = False
    ) -> list[Message]:
        thread_id = thread if isinstance(thread, str) else thread.thread_id
        found = sorted(
            (m for m in self.messages.values() if m.thread_id == thread_id),
            key=lambda m: m.seq,
        )
        if visible_only:
            found = [m for m in found if m.visible_to_user]
        return found[-limit:]

    async def settle_draft(self, message_id: uuid.UUID, changes: dict[str, Any]) -> Message | None:
        draft = self.messages.get(message_id)
        if draft is None or draft.status != "pending_approval":
            return None
        fields = {k: v for k, v in changes.items() if not k.startswith("metadata.")}
        metadata = dict(draft.metadata)
        metadata.update(
            {k.split(".", 1)[1]: v for k, v in changes.items() if k.startswith("metadata.")}
        )
        settled = replace(draft, **fields, metadata=metadata)
        self.messages[message_id] = settled
        return settled

    async def assign(
        self,
        thread: Thread,
        *,
        owner: Owner,
        agent_id: str | None,
        reason: str,
        because: Because,
        only_from: Owner | None = None,
    ) -> ThreadAssigned | None:
        current = await self.require_thread(thread.thread_id)
        change = str(because.event_id)
        if (
            change in current.assignments
            or (current.owner, current.assigned_agent) == (owner, agent_id)
            or (only_from is not None and current.owner != only_from)
        ):
            return None
        event = ThreadAssigned(
            event_id=because.event_id,
            thread_id=current.thread_id,
            correlation_id=because.correlation_id,
            causation_id=because.causation_id,
            owner=owner,
            previous_owner=current.owner,
            agent_id=agent_id,
            reason=reason[:1000],
        )
        self.threads[current.thread_id] = replace(
            current,
            owner=owner,
            assigned_agent=agent_id,
            assignments=(*current.assignments, change),
        )
        await self._announce([event])
        return event

    async def set_department(self, thread_id: str, department: str | None) -> Thread:
        current = await self.require_thread(thread_id)
        moved = replace(current, department=department, updated_at=utc_now())
        self.threads[thread_id] = moved
        return moved

    async def record_resolution(self, thread_id: str, resolution: ThreadResolution) -> None:
        current = self.threads.get(thread_id)
        if current is None:
            return
        if current.resolution is None or current.resolution.at < resolution.at:
            self.threads[thread_id] = replace(current, resolution=resolution)

    async def rate(
        self,
        thread: Thread,
        *,
        score: int,
        comment: str | None,
        via: RatedVia,
        because: Because,
    ) -> ThreadRated | None:
        # Decided on the thread as stored, in one step: the conditional write's guarantee.
        current = await self.require_thread(thread.thread_id)
        event = rating_event(current, score=score, comment=comment, via=via, because=because)
        if current.rating is not None and current.rating.event_id == str(because.event_id):
            return event
        if current.rated:
            return None
        rating = ThreadRating(
            key=current.rating_key,
            event_id=str(because.event_id),
            score=score,
            via=via,
            at=utc_now(),
        )
        self.threads[current.thread_id] = replace(current, rating=rating)
        await self._announce([event])
        return event

    def thread_messages(self, thread_id: str) -> Sequence[Message]:
        return sorted(
            (m for m in self.messages.values() if m.thread_id == thread_id), key=lambda m: m.seq
        )


class MemoryEscalations:
    """The escalation budget in a dict: ``per_user`` and ``per_thread`` escalations, for
    ever."""

    def __init__(self, *, per_user: int = 5, per_thread: int = 3) -> None:
        self.per_user = per_user
        self.per_thread = per_thread
        self.by_user: dict[str, int] = {}
        self.by_thread: dict[str, int] = {}

    async def take(self, thread: Thread) -> Refused | None:
        user = thread.user_id
        if user is not None and self.by_user.get(user, 0) >= self.per_user:
            return Refused(f"{self.per_user} for this user")
        if self.by_thread.get(thread.thread_id, 0) >= self.per_thread:
            return Refused(f"{self.per_thread} in this thread")
        if user is not None:
            self.by_user[user] = self.by_user.get(user, 0) + 1
        self.by_thread[thread.thread_id] = self.by_thread.get(thread.thread_id, 0) + 1
        return None

    @property
    def taken(self) -> int:
        return sum(self.by_thread.values())
