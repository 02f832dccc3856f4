"""The human side of a fault scenario: what went to people was answered by a person once,
every draft a person approved was sent once (and nothing unapproved was), every ticket was
resolved, and no ticket was ever held by two agents at once."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import MessageSent
from baton_testkit import Load, Team
from tests.support.recorder import Recorder
from tests.support.verdict import HUMAN


@dataclass
class PeopleVerdict:
    people: int
    """Accepted messages of the threads whose users want a person."""
    human_replies: int
    """Distinct replies by people seen on ``message.sent`` (the load's threads)."""
    human_records: int
    """``message.sent`` records of those replies (a redelivered event counts again)."""
    tickets: int
    resolved: int
    claims: int
    unanswered: list[uuid.UUID]
    """People messages without a person's reply."""
    answered_twice: list[uuid.UUID]
    """Messages with two different replies by people."""
    unconfirmed: list[uuid.UUID]
    """Replies seen that the API never confirmed to an agent (a second copy of one)."""
    undelivered: list[uuid.UUID]
    """Replies the API confirmed that never reached ``message.sent``."""
    open_tickets: list[str]
    double_holds: list[str]
    """Tickets with two claims at once in the claims log."""
    open_claims: list[str]
    """Claims on resolved tickets that the claims log never closed."""
    approvals: int = 0
    """Accepted messages of the threads whose replies people approve."""
    approved: int = 0
    """Drafts whose approval the API confirmed to an agent."""
    approved_sent: int = 0
    """Of those, the drafts seen on ``message.sent``."""
    approved_records: int = 0
    """``message.sent`` records of approved drafts (a redelivered event counts again)."""
    unapproved: list[uuid.UUID] = field(default_factory=list)
    """Approval messages no ticket approved by a person held."""
    unsent: list[uuid.UUID] = field(default_factory=list)
    """Drafts the API confirmed as approved that never reached ``message.sent``."""
    sent_unapproved: list[uuid.UUID] = field(default_factory=list)
    """AI replies to approval messages that went out without a person's approval."""
    approved_twice: list[uuid.UUID] = field(default_factory=list)
    """Approval messages with two different replies sent, or drafts sent under two events."""
    team: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (
            self.unanswered
            or self.answered_twice
            or self.unconfirmed
            or self.undelivered
            or self.open_tickets
            or self.double_holds
            or self.open_claims
            or self.unapproved
            or self.unsent
            or self.sent_unapproved
            or self.approved_twice
        )

    def summary(self) -> str:
        retried = sum(n for k, n in self.team.items() if k.startswith("retried_"))
        conflicts = sum(n for k, n in self.team.items() if k.startswith("claim_"))
        return (
            f"people={self.people} human_replies={self.human_replies} "
            f"human_lost={len(self.unanswered) + len(self.undelivered)} "
            f"human_duplicates={len(self.answered_twice) + len(self.unconfirmed)} "
            f"tickets={self.tickets} resolved={self.resolved} claims={self.claims} "
            f"double_holds={len(self.double_holds)} open_claims={len(self.open_claims)} "
            f"claim_conflicts={conflicts} resumed={self.team.get('worked_held', 0)} "
            f"retried={retried} approvals={self.approvals} approved={self.approved} "
            f"approved_sent={self.approved_sent} approved_records={self.approved_records} "
            f"approved_lost={len(self.unapproved) + len(self.unsent)} "
            f"approved_duplicates={len(self.approved_twice)} "
            f"sent_unapproved={len(self.sent_unapproved)}"
        )


async def stored(
    db: AsyncDatabase[dict[str, Any]], threads: list[str]
) -> tuple[list[Any], list[Any]]:
    """The tickets of ``threads`` and their claims, as MongoDB holds them."""
    tickets = (
        await db["tickets"]
        .find({"thread_id": {"$in": threads}}, projection={"outbox": 0})
        .to_list()
    )
    ids = [t["_id"] for t in tickets]
    claims = await db["claims"].find({"ticket_id": {"$in": ids}}).to_list() if ids else []
    return tickets, claims


def double_holds(claims: list[Any]) -> tuple[list[str], list[str]]:
    """Tickets whose claims overlap in time, and claims still open on a resolved ticket
    (the caller passes only those)."""
    by_ticket: dict[str, list[Any]] = defaultdict(list)
    for claim in claims:
        by_ticket[claim["ticket_id"]].append(claim)
    overlapping, still_open = [], []
    for ticket_id, spans in by_ticket.items():
        spans.sort(key=lambda c: c["claimed_at"])
        for before, after in itertools.pairwise(spans):
            ended: datetime | None = before.get("ended_at")
            if ended is None or ended > after["claimed_at"]:
                overlapping.append(ticket_id)
                break
        still_open += [c["_id"] for c in spans if c.get("ended_at") is None]
    return overlapping, still_open


def judge_people(
    load: Load, recorder: Recorder, team: Team, tickets: list[Any], claims: list[Any]
) -> PeopleVerdict:
    threads = {*load.threads, *load.people, *load.approvals}
    people = [a.message_id for a in load.accepted if a.to_people]
    approvals = {a.message_id for a in load.accepted if a.to_approve}
    replies_to: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    seen: set[uuid.UUID] = set()
    records = 0
    # The AI's replies to approval messages: each must be a draft a person approved.
    ai_replies_to: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    ai_events: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    ai_records = 0
    for record in recorder.records:
        event = record.event
        if not isinstance(event, MessageSent) or event.thread_id not in threads:
            continue
        if event.provider == HUMAN:
            records += 1
            seen.add(event.message_id)
            if event.in_reply_to is not None:
                replies_to[event.in_reply_to].add(event.message_id)
        elif event.in_reply_to in approvals:
            ai_records += 1
            ai_replies_to[event.in_reply_to].add(event.message_id)
            ai_events[event.message_id].add(event.event_id)
    approved = set(team.approved.values())
    approved_for = {m for ticket in team.approved for m in team.resolved.get(ticket, ())}
    confirmed = {m for ids in team.replies.values() for m in ids}
    resolved = [t for t in tickets if t.get("status") == "resolved"]
    overlapping, still_open = double_holds(
        [c for c in claims if c["ticket_id"] in {t["_id"] for t in resolved}]
    )
    return PeopleVerdict(
        people=len(people),
        human_replies=len(seen),
        human_records=records,
        tickets=len(tickets),
        resolved=len(resolved),
        claims=len(claims),
        unanswered=[m for m in people if not replies_to.get(m)],
        answered_twice=[m for m, found in replies_to.items() if len(found) > 1],
        unconfirmed=sorted(seen - confirmed),
        undelivered=sorted(confirmed - seen),
        open_tickets=[t["_id"] for t in tickets if t.get("status") != "resolved"],
        double_holds=overlapping,
        open_claims=still_open,
        approvals=len(approvals),
        approved=len(approved),
        approved_sent=len(approved & ai_events.keys()),
        approved_records=ai_records,
        unapproved=[m for m in approvals if m not in approved_for],
        unsent=sorted(approved - ai_events.keys()),
        sent_unapproved=sorted(ai_events.keys() - approved),
        approved_twice=sorted(
            [m for m, replies in ai_replies_to.items() if len(replies) > 1]
            + [d for d, events in ai_events.items() if len(events) > 1]
        ),
        team=dict(team.counts),
    )


async def settle_people(
    load: Load,
    recorder: Recorder,
    team: Team,
    mongodb: str,
    database: str,
    *,
    timeout: float = 90.0,
) -> PeopleVerdict:
    """Wait until the team has resolved every ticket of the load's threads and what it did
    has been carried out (replies sent, claims closed; the queue's sweep finishes what a
    crash cut short), or ``timeout``; then judge."""
    threads = [*load.threads, *load.people, *load.approvals]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb, tz_aware=True)
    try:
        while True:
            found = judge_people(load, recorder, team, *await stored(client[database], threads))
            waiting = [
                a
                for a in load.accepted
                if (a.to_people or a.to_approve) and not team.covered(a.message_id)
            ]
            if not (
                waiting
                or found.open_tickets
                or found.undelivered
                or found.open_claims
                or found.unsent
            ):
                break
            if loop.time() > deadline:
                return found  # judged as it is: the verdict names what is missing
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)  # anything sent twice late shows up now
        return judge_people(load, recorder, team, *await stored(client[database], threads))
    finally:
        await client.close()
