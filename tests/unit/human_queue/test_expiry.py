"""Question timeout: a question nobody answers in time is closed by the sweep, and the AI is
told to go on by the configured fallback (``ticket.expired``), once; an answer after that is
refused, and of an answer and the expiry racing exactly one wins."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from baton_contracts import HumanResponded, TicketExpired
from baton_human_queue.domain import DepartmentTimeout, QuestionTimeout, WrongStateError
from baton_human_queue.tickets import Ticket
from baton_human_queue.usecases import Intake

from .conftest import ALEX, NOW, Queue, requested


def timeouts(queue: Queue, timeout: QuestionTimeout) -> Intake:
    """The queue's intake, with ``timeout`` for its questions."""
    return Intake(
        tickets=queue.tickets,
        conversations=queue.conversations,
        config=replace(queue.config, question_timeout=timeout),
        clock=queue.clock,
    )


async def question(
    queue: Queue, intake: Intake | None = None, department: str = "billing"
) -> Ticket:
    thread = await queue.thread(department)
    event = requested(thread, "question", await queue.user_says(thread))
    await (intake or queue.intake).open_request(event)
    return await queue.only_ticket(thread)


BILLING_FAST = QuestionTimeout(
    after_s=1800,
    fallback="ai",
    by_department={"Billing": DepartmentTimeout(after_s=300, fallback="human")},
)


async def test_an_unanswered_question_is_closed_and_the_ai_told_once(queue: Queue) -> None:
    ticket = await question(queue)
    assert (ticket.expires_at, ticket.fallback) == (NOW + timedelta(minutes=30), "ai")

    queue.clock.advance(minutes=29, seconds=59)
    await queue.sweep()
    assert queue.published(TicketExpired) == []

    queue.clock.advance(seconds=1)
    await queue.sweep()
    await queue.sweep()

    closed = await queue.tickets.get(ticket.ticket_id)
    assert closed is not None
    assert (closed.status, closed.expired_at, closed.resolution) == (
        "resolved",
        queue.clock(),
        None,
    )
    assert closed.expiry_reason == "nobody answered within 30 min"
    [expired] = queue.published(TicketExpired)
    assert (expired.ticket_id, expired.kind, expired.fallback, expired.reason) == (
        ticket.ticket_id,
        "question",
        "ai",
        "nobody answered within 30 min",
    )
    assert (expired.request_id, expired.tool_call_id, expired.message_id) == (
        ticket.request_id,
        "call_1",
        ticket.user_message_id,
    )
    assert (expired.thread_id, expired.correlation_id) == (ticket.thread_id, ticket.correlation_id)
    assert queue.tickets.follow_ups_of(ticket.ticket_id) == []


async def test_a_department_has_its_own_timeout_and_fallback(queue: Queue) -> None:
    intake = timeouts(queue, BILLING_FAST)
    billing = await question(queue, intake, "billing")
    support = await question(queue, intake, "support")
    assert (billing.fallback, support.fallback) == ("human", "ai")

    queue.clock.advance(minutes=5)
    await queue.sweep()

    [expired] = queue.published(TicketExpired)
    assert (expired.ticket_id, expired.fallback) == (billing.ticket_id, "human")
    assert expired.reason == "nobody answered within 5 min"
    still = await queue.tickets.get(support.ticket_id)
    assert still is not None
    assert still.status == "pending"


async def test_without_a_timeout_a_question_waits(queue: Queue) -> None:
    intake = timeouts(queue, QuestionTimeout(after_s=None))
    ticket = await question(queue, intake)
    assert ticket.expires_at is None
    queue.clock.advance(days=3)
    await queue.sweep()
    assert queue.published(TicketExpired) == []


async def test_other_kinds_never_expire(queue: Queue) -> None:
    await queue.request("approval")
    await queue.request("escalation")
    queue.clock.advance(days=1)
    await queue.sweep()
    assert queue.published(TicketExpired) == []


async def test_a_late_answer_is_refused_and_the_claim_given_back(queue: Queue) -> None:
    ticket = await question(queue, timeouts(queue, BILLING_FAST))
    claimed = await queue.claims.claim(ALEX, ticket.ticket_id)
    queue.clock.advance(minutes=5)
    await queue.sweep()

    with pytest.raises(WrongStateError, match="expired: nobody answered within 5 min"):
        await queue.holder.answer(ALEX, ticket.ticket_id, "It shipped on Monday.")
    with pytest.raises(WrongStateError, match="expired"):
        await queue.claims.claim(ALEX, ticket.ticket_id)
    assert queue.published(HumanResponded) == []
    [expired] = queue.published(TicketExpired)
    assert expired.fallback == "human"
    [span] = queue.claim_log.claims.values()
    assert (span.claim_id, span.outcome, span.ended_at) == (
        claimed.claim_id,
        "expired",
        queue.clock(),
    )
    state = await queue.agents.get(ALEX.agent_id)
    assert state is not None
    assert state.slots == ()


@pytest.mark.parametrize("answer_first", [True, False])
async def test_of_an_answer_and_the_expiry_exactly_one_wins(
    queue: Queue, answer_first: bool
) -> None:
    ticket = await question(queue, timeouts(queue, BILLING_FAST))
    await queue.claims.claim(ALEX, ticket.ticket_id)
    queue.clock.advance(minutes=5)
    answer = queue.holder.answer(ALEX, ticket.ticket_id, "It shipped.")
    expire = queue.sweep.expirations()
    results = await asyncio.gather(
        *((answer, expire) if answer_first else (expire, answer)), return_exceptions=True
    )

    answered, expired = queue.published(HumanResponded), queue.published(TicketExpired)
    assert len(answered) + len(expired) == 1
    refused = [r for r in results if isinstance(r, BaseException)]
    if expired:
        assert [type(r) for r in refused] == [WrongStateError]
    else:
        assert refused == []
    closed = await queue.tickets.get(ticket.ticket_id)
    assert closed is not None
    assert closed.status == "resolved"
    assert (closed.expired_at is not None) == bool(expired)
    assert (closed.resolution is not None) == bool(answered)


async def test_an_expiry_kafka_missed_is_announced_by_the_next_sweep_once(queue: Queue) -> None:
    ticket = await question(queue)
    queue.clock.advance(minutes=30)
    queue.publisher.down = True
    await queue.sweep()
    closed = await queue.tickets.get(ticket.ticket_id)
    assert closed is not None
    assert closed.expired_at is not None
    assert queue.published(TicketExpired) == []

    queue.publisher.down = False
    queue.clock.advance(seconds=5)
    await queue.sweep()
    await queue.sweep()
    assert [e.ticket_id for e in queue.published(TicketExpired)] == [ticket.ticket_id]


def test_the_timeout_of_a_department_is_found_whatever_its_case() -> None:
    rules = QuestionTimeout(
        after_s=600,
        fallback="human",
        by_department={
            "billing": DepartmentTimeout(after_s=60),
            "vip": DepartmentTimeout(after_s=None, fallback="ai"),
        },
    )
    assert rules.deadline("BILLING", NOW) == (NOW + timedelta(seconds=60), "human")
    assert rules.deadline("vip", NOW) == (None, "ai")
    assert rules.deadline("shipping", NOW) == (NOW + timedelta(minutes=10), "human")
    assert rules.deadline(None, NOW) == (NOW + timedelta(minutes=10), "human")
