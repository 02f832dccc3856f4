"""The SLA clocks beside the first response: the next response to a user who wrote again,
and the resolution. Each runs in business time, is breached once (a next response once per
wait), and a breach raises the ticket's priority by its configured step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY

from baton_contracts import TicketSlaBreached
from baton_conversations import BusinessHours, OpeningHours
from baton_human_queue.domain import sla_due
from baton_human_queue.notices import NOTICE_KINDS, NoticeRules
from baton_human_queue.staffing import StaffingRules
from baton_human_queue.tickets import Ticket
from baton_human_queue.usecases import QueueConfig
from baton_human_queue.usecases.moving import MovingWork

from .conftest import ALEX, NOW, SAM, Queue, routed

HOURS = BusinessHours(
    departments={"support": OpeningHours(timezone="UTC", hours={"mon-fri": "09:00-17:00"})}
)


@pytest.fixture
def queue_config() -> QueueConfig:
    return QueueConfig(
        lease_s=3600,
        max_text_length=100,
        context_messages=5,
        outbox_grace_s=5,
        staffing=StaffingRules(default_capacity=50, away_after_s=300, failover_after_s=120),
        notices=NoticeRules(disable=NOTICE_KINDS),
        sla_s={0: 3600},
        next_response_sla_s={0: 600},
        resolution_sla_s={0: 4 * 3600},
        sla_raise={"next_response": 15, "resolution": 5},
        hours=HOURS,
    )


def breaches(queue: Queue, sla: str | None = None) -> list[TicketSlaBreached]:
    return [e for e in queue.published(TicketSlaBreached) if sla is None or e.sla == sla]


async def current(queue: Queue, ticket: Ticket) -> Ticket:
    found = await queue.tickets.get(ticket.ticket_id)
    assert found is not None
    return found


async def user_writes_again(queue: Queue, ticket: Ticket, text: str = "and?") -> None:
    thread = await queue.conversations.require_thread(ticket.thread_id)
    await queue.intake.open_conversation(routed(thread, await queue.user_says(thread, text)))


def counted(kind: str, sla: str) -> float:
    value = REGISTRY.get_sample_value("baton_queue_sla_breaches_total", {"kind": kind, "sla": sla})
    return value or 0.0


def test_an_sla_clock_counts_business_time_only() -> None:
    support = HOURS.of("support")
    friday_evening = datetime(2026, 3, 6, 16, 30, tzinfo=UTC)
    # Half an hour on Friday, half an hour on Monday morning.
    assert sla_due(friday_evening, 0, {0: 3600}, support) == datetime(2026, 3, 9, 9, 30, tzinfo=UTC)
    assert sla_due(friday_evening, 0, {0: 3600}) == datetime(2026, 3, 6, 17, 30, tzinfo=UTC)


async def test_a_user_waiting_again_on_people_starts_the_next_response_clock(
    queue: Queue,
) -> None:
    ticket = await queue.claimed()
    await user_writes_again(queue, ticket, "anyone?")
    # No response yet: the first-response clock runs; no next-response one.
    assert (await current(queue, ticket)).next_response_due_at is None

    await queue.holder.reply(ALEX, ticket.ticket_id, "Looking into it.", idempotency_key=None)
    queue.clock.advance(minutes=1)
    await user_writes_again(queue, ticket, "thanks, and the invoice?")
    waiting = await current(queue, ticket)
    assert waiting.next_response_due_at == queue.clock() + timedelta(minutes=10)

    queue.clock.advance(minutes=5)
    await user_writes_again(queue, ticket, "hello??")
    # A later message of the same wait keeps the earlier due time.
    assert (await current(queue, ticket)).next_response_due_at == waiting.next_response_due_at

    queue.clock.advance(minutes=4, seconds=59)
    await queue.sweep()
    assert breaches(queue) == []

    queue.clock.advance(seconds=1)
    before = counted("conversation", "next_response")
    await queue.sweep()
    await queue.sweep()

    [breach] = breaches(queue)
    assert (breach.sla, breach.ticket_id, breach.status) == (
        "next_response",
        ticket.ticket_id,
        "assigned",
    )
    assert breach.sla_due_at == waiting.next_response_due_at
    assert (breach.priority, breach.priority_raised_by) == (15, 15)
    assert breach.agent is not None
    assert breach.agent.agent_id == ALEX.agent_id
    flagged = await current(queue, ticket)
    assert (flagged.priority, flagged.priority_raised) == (15, 15)
    assert flagged.next_response_breached_at == queue.clock()
    assert counted("conversation", "next_response") == before + 1

    # A reply ends the wait; the next wait is a clock of its own, and breaches on its own.
    await queue.holder.reply(ALEX, ticket.ticket_id, "Sent it.", idempotency_key=None)
    answered = await current(queue, ticket)
    assert (answered.next_response_due_at, answered.next_response_breached_at) == (None, None)
    await user_writes_again(queue, ticket, "got it, one more thing")
    queue.clock.advance(minutes=10)
    await queue.sweep()
    first, second = breaches(queue, "next_response")
    assert first.event_id != second.event_id
    assert second.priority == 30
    assert breaches(queue, "first_response") == []  # people answered in time


async def test_a_ticket_open_too_long_breaches_its_resolution_sla_once(queue: Queue) -> None:
    ticket = await queue.claimed("escalation")
    assert ticket.resolution_due_at == NOW + timedelta(hours=4)
    await queue.holder.reply(ALEX, ticket.ticket_id, "On it.", idempotency_key=None)

    queue.clock.advance(hours=4)
    await queue.sweep()
    await queue.sweep()

    [breach] = breaches(queue)
    assert (breach.sla, breach.kind, breach.sla_due_at) == (
        "resolution",
        "escalation",
        NOW + timedelta(hours=4),
    )
    assert (breach.priority, breach.priority_raised_by) == (15, 5)  # escalation 10, +5
    assert (await current(queue, ticket)).resolution_breached_at == queue.clock()

    # The raise survives a transfer, which works the priority out again.
    moving = MovingWork(
        tickets=queue.tickets,
        agents=queue.agents,
        departments=queue.departments,
        conversations=queue.conversations,
        config=queue.config,
        max_note_length=100,
        clock=queue.clock,
    )
    await queue.claims.claim(ALEX, ticket.ticket_id)  # the lease ran out meanwhile
    moved = await moving.transfer(ALEX, ticket.ticket_id, department="support")
    assert (moved.department, moved.priority) == ("support", 15)


async def test_a_resolved_ticket_breaches_nothing(queue: Queue) -> None:
    ticket = await queue.claimed()
    await queue.holder.reply(ALEX, ticket.ticket_id, "Hi", idempotency_key=None)
    await user_writes_again(queue, ticket)
    await queue.holder.resolve(ALEX, ticket.ticket_id, "ai")

    queue.clock.advance(hours=5)
    await queue.sweep()

    assert breaches(queue) == []


async def test_the_clocks_of_a_department_with_hours_run_in_business_time(queue: Queue) -> None:
    # NOW is Sunday noon: the support department opens on Monday at 09:00 (UTC).
    thread = await queue.thread("support")
    await queue.intake.open_conversation(routed(thread, await queue.user_says(thread)))
    ticket = await queue.tickets.open_for_thread(thread.thread_id)
    assert ticket is not None
    monday = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert ticket.sla_due_at == monday + timedelta(hours=1)
    assert ticket.resolution_due_at == monday + timedelta(hours=4)

    queue.clock.advance(hours=10)  # Sunday night: nothing is due yet
    await queue.sweep()
    assert breaches(queue) == []

    queue.clock.now = monday + timedelta(hours=1)
    await queue.sweep()
    assert [b.sla for b in breaches(queue)] == ["first_response"]
    # The first-response SLA raises nothing here: it has no step configured.
    assert breaches(queue)[0].priority_raised_by == 0

    await queue.claims.claim(SAM, ticket.ticket_id)
    await queue.holder.reply(SAM, ticket.ticket_id, "Morning!", idempotency_key=None)
    queue.clock.now = monday + timedelta(hours=7, minutes=55)  # 16:55
    await user_writes_again(queue, ticket)
    after = await current(queue, ticket)
    # Five minutes on Monday, five on Tuesday morning.
    assert after.next_response_due_at == datetime(2026, 3, 3, 9, 5, tzinfo=UTC)
