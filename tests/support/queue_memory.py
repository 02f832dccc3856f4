"""An in-memory stand-in for the human queue's tickets, for unit tests of its use cases.

A ticket change applies only if the ticket is as the caller saw it, as the conditional
writes on MongoDB do, and keeps its follow-ups on the ticket until they are delivered
(carried out by a real :class:`~baton_runtime.Outbox`). Reads and writes yield to the event
loop like a round trip would, so concurrent callers interleave.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from baton_contracts import Event, SlaKind, TicketSummary
from baton_human_queue.audit import ActionRecord
from baton_human_queue.canned import CannedResponse, ShortcutTakenError, scope_of
from baton_human_queue.domain import breach_due, expiry_due, lease_expired
from baton_human_queue.notes import Note
from baton_human_queue.ports import Changed, TicketQuery
from baton_human_queue.store.tickets import UNCLAIMED
from baton_human_queue.tickets import (
    OPEN_STATUSES,
    AiNotes,
    Holder,
    Resolution,
    ThreadTicket,
    Ticket,
    read_ticket,
    ticket_document,
)
from baton_runtime import Entry, Outbox

from .memory import MemoryPublisher


class Clock:
    """The time the use cases see; tests move it on."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class FlakyPublisher(MemoryPublisher):
    """A publisher Kafka can be away from: while ``down``, publishing fails."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def publish(self, events: Iterable[Event]) -> None:
        if self.down:
            raise ConnectionError("Kafka is unreachable")
        await super().publish(events)


@dataclass
class _Stored:
    ticket: Ticket
    outbox: list[Entry] = field(default_factory=list)
    outbox_at: datetime | None = None


def _open_thread(ticket: Ticket) -> bool:
    return isinstance(ticket, ThreadTicket) and ticket.status != "resolved"


class MemoryTickets:
    def __init__(self, outbox: Outbox, clock: Callable[[], datetime]) -> None:
        self._outbox = outbox
        self._now = clock
        self.stored: dict[str, _Stored] = {}

    def follow_ups_of(self, ticket_id: str) -> list[Entry]:
        """What waits on the ticket to be carried out."""
        return list(self.stored[ticket_id].outbox)

    # ------------------------------------------------------------ reading

    async def add(self, ticket: Ticket, *, follow_ups: Sequence[Entry] = ()) -> bool:
        await asyncio.sleep(0)
        if ticket.ticket_id in self.stored:
            return False
        if _open_thread(ticket) and any(
            _open_thread(s.ticket) and s.ticket.thread_id == ticket.thread_id
            for s in self.stored.values()
        ):
            return False
        self.stored[ticket.ticket_id] = _Stored(
            read_ticket(ticket_document(ticket)),
            outbox=list(follow_ups),
            outbox_at=self._now() if follow_ups else None,
        )
        return True

    async def get(self, ticket_id: str) -> Ticket | None:
        await asyncio.sleep(0)
        stored = self.stored.get(ticket_id)
        return stored.ticket if stored else None

    async def open_for_thread(self, thread_id: str) -> Ticket | None:
        await asyncio.sleep(0)
        return next(
            (
                s.ticket
                for s in self.stored.values()
                if _open_thread(s.ticket) and s.ticket.thread_id == thread_id
            ),
            None,
        )

    async def search(self, query: TicketQuery) -> list[Ticket]:
        await asyncio.sleep(0)

        def wanted(t: Ticket) -> bool:
            return (
                t.status in query.statuses
                and (
                    query.departments is None
                    or t.department is None
                    or t.department in query.departments
                )
                and (query.department is None or t.department == query.department)
                and (query.kind is None or t.kind == query.kind)
                and (query.thread_id is None or t.thread_id == query.thread_id)
            )

        found = [s.ticket for s in self.stored.values() if wanted(s.ticket)]
        found.sort(key=lambda t: (-t.priority, t.created_at))
        return found[: query.limit]

    async def lapsed(self, now: datetime, *, limit: int) -> list[Ticket]:
        await asyncio.sleep(0)
        return [
            s.ticket
            for s in self.stored.values()
            if s.ticket.status == "assigned" and lease_expired(s.ticket, now)
        ][:limit]

    async def sla_due(
        self, now: datetime, *, limit: int, sla: SlaKind = "first_response"
    ) -> list[Ticket]:
        await asyncio.sleep(0)
        return [s.ticket for s in self.stored.values() if breach_due(s.ticket, sla, now)][:limit]

    async def ahead_of(self, ticket: Ticket, *, limit: int) -> int:
        await asyncio.sleep(0)
        ahead = [
            t
            for s in self.stored.values()
            if (t := s.ticket).status == "pending"
            and t.department == ticket.department
            and t.ticket_id != ticket.ticket_id
            and (-t.priority, t.created_at) <= (-ticket.priority, ticket.created_at)
        ]
        return min(len(ahead), limit)

    async def claim_waits(
        self, department: str | None, *, since: datetime, limit: int
    ) -> list[tuple[datetime, datetime]]:
        await asyncio.sleep(0)
        claimed = sorted(
            (
                (t.created_at, t.first_claimed_at)
                for s in self.stored.values()
                if (t := s.ticket).department == department
                and t.first_claimed_at is not None
                and t.first_claimed_at >= since
            ),
            key=lambda pair: pair[1],
            reverse=True,
        )
        return claimed[:limit]

    async def expiring(self, now: datetime, *, limit: int) -> list[Ticket]:
        await asyncio.sleep(0)
        return [s.ticket for s in self.stored.values() if expiry_due(s.ticket, now)][:limit]

    async def created_between(self, since: datetime, until: datetime) -> list[Ticket]:
        await asyncio.sleep(0)
        found = [s.ticket for s in self.stored.values() if since <= s.ticket.created_at < until]
        return sorted(found, key=lambda t: t.created_at)

    # ------------------------------------------------------------ changing

    async def attach(
        self,
        ticket_id: str,
        message_id: uuid.UUID,
        *,
        notes: AiNotes,
        now: datetime,
        next_response_due: datetime | None = None,
    ) -> Ticket | None:
        def waiting(t: Ticket) -> dict[str, Any]:
            if next_response_due is None:
                return {}
            due = t.next_response_due_at
            return {
                "next_response_due_at": min(due, next_response_due) if due else next_response_due
            }

        changed = await self._change(
            ticket_id,
            lambda t: t.status in OPEN_STATUSES,
            lambda t: {
                "message_ids": [
                    *t.message_ids,
                    *([] if message_id in t.message_ids else [message_id]),
                ],
                **notes.model_dump(exclude_none=True),
                **waiting(t),
                "updated_at": now,
            },
            (),
        )
        return changed.ticket if changed else None

    async def claim(
        self,
        ticket_id: str,
        *,
        seen_claim_id: str | None,
        holder: Holder,
        claim_id: str,
        until: datetime,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        return await self._change(
            ticket_id,
            lambda t: (
                t.claim_id == seen_claim_id
                and (t.status == "pending" or (t.status == "assigned" and lease_expired(t, now)))
            ),
            lambda t: {
                "status": "assigned",
                "holder": holder.model_dump(),
                "claim_id": claim_id,
                "claimed_at": now,
                "lease_expires_at": until,
                "first_claimed_at": t.first_claimed_at or now,
                "updated_at": now,
            },
            follow_ups,
        )

    async def renew(
        self, ticket_id: str, *, claim_id: str, until: datetime, now: datetime
    ) -> Ticket | None:
        changed = await self._change(
            ticket_id,
            _live_claim(claim_id, now),
            lambda t: {"lease_expires_at": until, "updated_at": now},
            (),
        )
        return changed.ticket if changed else None

    async def reassign(
        self,
        ticket_id: str,
        *,
        seen_claim_id: str,
        holder: Holder,
        claim_id: str,
        until: datetime,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        return await self._change(
            ticket_id,
            lambda t: t.status == "assigned" and t.claim_id == seen_claim_id,
            lambda t: {
                "holder": holder.model_dump(),
                "claim_id": claim_id,
                "claimed_at": now,
                "lease_expires_at": until,
                "updated_at": now,
            },
            follow_ups,
        )

    async def transfer(
        self,
        ticket_id: str,
        *,
        seen_claim_id: str | None,
        department: str | None,
        priority: int,
        holder: Holder | None,
        claim_id: str | None,
        until: datetime | None,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        def fields(t: Ticket) -> dict[str, Any]:
            taken: dict[str, Any] = (
                {
                    "status": "assigned",
                    "holder": holder.model_dump(),
                    "claim_id": claim_id,
                    "claimed_at": now,
                    "lease_expires_at": until,
                    "first_claimed_at": t.first_claimed_at or now,
                }
                if holder is not None
                else dict(UNCLAIMED)
            )
            return {**taken, "department": department, "priority": priority, "updated_at": now}

        return await self._change(
            ticket_id,
            lambda t: t.status in OPEN_STATUSES and t.claim_id == seen_claim_id,
            fields,
            follow_ups,
        )

    async def release(
        self, ticket_id: str, *, claim_id: str, now: datetime, follow_ups: Sequence[Entry]
    ) -> Changed | None:
        return await self._change(
            ticket_id,
            lambda t: t.status == "assigned" and t.claim_id == claim_id,
            lambda t: {**UNCLAIMED, "updated_at": now},
            follow_ups,
        )

    async def reply(
        self,
        ticket_id: str,
        *,
        claim_id: str,
        reply_id: uuid.UUID,
        until: datetime,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        live = _live_claim(claim_id, now)
        return await self._change(
            ticket_id,
            lambda t: live(t) and reply_id not in getattr(t, "replies", ()),
            lambda t: {
                "lease_expires_at": until,
                "first_response_at": t.first_response_at or now,
                "replies": [*getattr(t, "replies", ()), reply_id],
                "next_response_due_at": None,
                "next_response_breached_at": None,
                "updated_at": now,
            },
            follow_ups,
        )

    async def resolve(
        self,
        ticket_id: str,
        *,
        claim_id: str,
        resolution: Resolution,
        now: datetime,
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        return await self._change(
            ticket_id,
            _live_claim(claim_id, now),
            lambda t: {
                "status": "resolved",
                "resolved_at": now,
                "resolution": resolution.model_dump(),
                "lease_expires_at": None,
                "first_response_at": t.first_response_at or now,
                "updated_at": now,
            },
            follow_ups,
        )

    async def expire(
        self, ticket_id: str, *, claim_id: str, now: datetime, follow_ups: Sequence[Entry]
    ) -> Changed | None:
        return await self._change(
            ticket_id,
            lambda t: t.status == "assigned" and t.claim_id == claim_id and lease_expired(t, now),
            lambda t: {**UNCLAIMED, "updated_at": now},
            follow_ups,
        )

    async def flag_sla_breach(
        self,
        ticket_id: str,
        *,
        now: datetime,
        follow_ups: Sequence[Entry],
        sla: SlaKind = "first_response",
        seen: Ticket | None = None,
        raise_by: int = 0,
    ) -> Changed | None:
        flags: dict[SlaKind, dict[str, Any]] = {
            "first_response": {"sla_breached": True, "sla_breached_at": now},
            "next_response": {"next_response_breached_at": now},
            "resolution": {"resolution_breached_at": now},
        }
        flagged = flags[sla]

        def condition(t: Ticket) -> bool:
            if not breach_due(t, sla, now):
                return False
            if seen is None:
                return True
            if sla == "next_response" and t.next_response_due_at != seen.next_response_due_at:
                return False
            return not raise_by or t.priority == seen.priority

        return await self._change(
            ticket_id,
            condition,
            lambda t: {
                **flagged,
                "priority": t.priority + raise_by,
                "priority_raised": t.priority_raised + raise_by,
                "updated_at": now,
            },
            follow_ups,
        )

    async def close_expired(
        self, ticket_id: str, *, now: datetime, reason: str, follow_ups: Sequence[Entry]
    ) -> Changed | None:
        return await self._change(
            ticket_id,
            lambda t: expiry_due(t, now),
            lambda t: {
                "status": "resolved",
                "resolved_at": now,
                "expired_at": now,
                "expiry_reason": reason,
                "lease_expires_at": None,
                "updated_at": now,
            },
            follow_ups,
        )

    async def summarize(
        self, ticket_id: str, *, thread_id: str, summary: TicketSummary, now: datetime
    ) -> Ticket | None:
        changed = await self._change(
            ticket_id,
            lambda t: t.thread_id == thread_id and t.summary is None,
            lambda t: {"summary": summary.model_dump(), "summarized_at": now, "updated_at": now},
            (),
        )
        return changed.ticket if changed else None

    async def _change(
        self,
        ticket_id: str,
        condition: Callable[[Ticket], bool],
        fields: Callable[[Ticket], dict[str, Any]],
        follow_ups: Sequence[Entry],
    ) -> Changed | None:
        await asyncio.sleep(0)
        stored = self.stored.get(ticket_id)
        if stored is None or not condition(stored.ticket):
            return None
        stored.ticket = read_ticket({**ticket_document(stored.ticket), **fields(stored.ticket)})
        if follow_ups:
            stored.outbox += follow_ups
            stored.outbox_at = self._now()
        return Changed(stored.ticket, list(stored.outbox))

    # ------------------------------------------------------------ follow-ups

    async def deliver(self, ticket_id: str, follow_ups: Sequence[Entry]) -> None:
        if not follow_ups:
            return
        await self._outbox.carry_out(follow_ups)
        stored = self.stored[ticket_id]
        stored.outbox = [e for e in stored.outbox if e not in follow_ups]
        if not stored.outbox:
            stored.outbox_at = None

    async def sweep_follow_ups(self, *, older_than: timedelta) -> int:
        now = self._now()
        finished = 0
        for ticket_id, stored in list(self.stored.items()):
            if stored.outbox_at is None or stored.outbox_at > now - older_than:
                continue
            stored.outbox_at = now
            try:
                await self.deliver(ticket_id, list(stored.outbox))
            except Exception:  # noqa: S112 - left for the next sweep, as on MongoDB
                continue
            finished += 1
        return finished


def _live_claim(claim_id: str, now: datetime) -> Callable[[Ticket], bool]:
    return lambda t: (
        t.status == "assigned"
        and t.claim_id == claim_id
        and t.lease_expires_at is not None
        and t.lease_expires_at > now
    )


class MemoryActionAudit:
    """The action audit: each record once, by its id."""

    def __init__(self) -> None:
        self.records: dict[str, ActionRecord] = {}

    async def add(self, record: ActionRecord) -> bool:
        await asyncio.sleep(0)
        if record.record_id in self.records:
            return False
        self.records[record.record_id] = record
        return True

    async def of_ticket(self, ticket_id: str) -> list[ActionRecord]:
        found = [r for r in self.records.values() if r.ticket_id == ticket_id]
        return sorted(found, key=ActionRecord.sort_key)

    async def between(self, since: datetime | None, until: datetime | None) -> list[ActionRecord]:
        found = [
            r
            for r in self.records.values()
            if (since is None or r.at >= since) and (until is None or r.at < until)
        ]
        return sorted(found, key=ActionRecord.sort_key)


class MemoryNotes:
    """Internal notes (``ticket_notes``): stored once by id, read latest first, oldest first."""

    def __init__(self) -> None:
        self.stored: dict[uuid.UUID, Note] = {}

    async def add(self, note: Note) -> Note:
        await asyncio.sleep(0)
        return self.stored.setdefault(note.note_id, note)

    async def of_ticket(self, ticket_id: str, *, limit: int) -> list[Note]:
        return await self._latest(lambda n: n.ticket_id == ticket_id, limit)

    async def of_thread(self, thread_id: str, *, limit: int) -> list[Note]:
        return await self._latest(lambda n: n.thread_id == thread_id, limit)

    async def _latest(self, wanted: Callable[[Note], bool], limit: int) -> list[Note]:
        await asyncio.sleep(0)
        found = sorted((n for n in self.stored.values() if wanted(n)), key=lambda n: n.created_at)
        return found[-limit:]


class MemoryCanned:
    """Canned replies, with the unique (department, shortcut) of the MongoDB index."""

    def __init__(self) -> None:
        self.stored: dict[str, CannedResponse] = {}

    def _check_free(self, canned: CannedResponse) -> None:
        for other in self.stored.values():
            if (
                other.canned_id != canned.canned_id
                and scope_of(other.department) == scope_of(canned.department)
                and other.shortcut == canned.shortcut
            ):
                raise ShortcutTakenError(f"{canned.shortcut!r} is taken")

    async def add(self, canned: CannedResponse) -> None:
        await asyncio.sleep(0)
        self._check_free(canned)
        self.stored[canned.canned_id] = canned

    async def get(self, canned_id: str) -> CannedResponse | None:
        await asyncio.sleep(0)
        return self.stored.get(canned_id)

    async def replace(self, canned: CannedResponse) -> bool:
        await asyncio.sleep(0)
        if canned.canned_id not in self.stored:
            return False
        self._check_free(canned)
        self.stored[canned.canned_id] = canned
        return True

    async def delete(self, canned_id: str) -> bool:
        await asyncio.sleep(0)
        return self.stored.pop(canned_id, None) is not None

    async def search(self, departments: Sequence[str | None] | None) -> list[CannedResponse]:
        await asyncio.sleep(0)
        scopes = None if departments is None else {scope_of(d) for d in departments}
        found = [
            c for c in self.stored.values() if scopes is None or scope_of(c.department) in scopes
        ]
        return sorted(found, key=lambda c: (scope_of(c.department), c.shortcut))
