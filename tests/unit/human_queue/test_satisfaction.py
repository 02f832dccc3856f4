"""Customer satisfaction in the queue: a resolution is recorded on its thread (what a rating
is about), the users' ratings are kept once, and reported per agent, per department, AI
against human, and in the labour report."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY
from pydantic import SecretStr

from baton_contracts import ThreadRated
from baton_conversations import Because, ThreadResolution, rating_event
from baton_human_queue.agents import Agents
from baton_human_queue.api import api_router
from baton_human_queue.cli_satisfaction import lines
from baton_human_queue.satisfaction import Rating, satisfaction_report
from baton_human_queue.tickets import Ticket
from baton_human_queue.usecases import Ratings
from baton_runtime import install_error_handlers

from .conftest import ALEX, NOW, SAM, Queue, routed

ADMIN = "admin-token-0123456789"


async def rated(queue: Queue, thread_id: str, score: int, **fields: Any) -> ThreadRated:
    """The user rates the thread as it is now (as ingest does through the core), and the
    queue keeps the rating (as its consumer does)."""
    thread = await queue.conversations.require_thread(thread_id)
    event_id = uuid.uuid4()
    event = rating_event(
        thread,
        score=score,
        comment=fields.get("comment"),
        via=fields.get("via", "api"),
        because=Because(event_id, event_id, None),
    ).model_copy(update={"occurred_at": queue.clock()})
    await Ratings(ratings=queue.ratings).record(event)
    return event


async def resolved_by(queue: Queue, agent: Any = ALEX, department: str = "billing") -> Ticket:
    ticket = await queue.conversation(department)
    await queue.claims.claim(agent, ticket.ticket_id)
    queue.clock.advance(minutes=5)
    return await queue.holder.resolve(agent, ticket.ticket_id, "ai")


def counted(resolved: str, score: int) -> float:
    labels = {"resolved_by": resolved, "score": str(score)}
    return REGISTRY.get_sample_value("baton_csat_ratings_total", labels) or 0.0


# ---------------------------------------------------------------- a resolution to rate


async def test_resolving_a_conversation_records_who_resolved_it_on_the_thread(
    queue: Queue,
) -> None:
    ticket = await resolved_by(queue)

    thread = await queue.conversations.require_thread(ticket.thread_id)
    assert thread.resolution == ThreadResolution(
        ticket_id=ticket.ticket_id,
        agent_id=ALEX.agent_id,
        agent_name="Alex",
        agent_department="billing",
        department="billing",
        at=queue.clock(),
    )
    event = await rated(queue, ticket.thread_id, 5)
    assert (event.resolved_by, event.ticket_id, event.department) == (
        "human",
        ticket.ticket_id,
        "billing",
    )
    assert event.agent is not None
    assert event.agent.agent_id == ALEX.agent_id


async def test_the_latest_resolution_is_the_one_rated(queue: Queue) -> None:
    first = await resolved_by(queue)
    thread = await queue.conversations.require_thread(first.thread_id)
    await queue.intake.open_conversation(
        routed(thread, await queue.user_says(thread, "It broke again"))
    )
    [second] = await queue.reading.search(SAM, statuses=("pending",), thread_id=first.thread_id)
    await queue.claims.claim(SAM, second.ticket_id)
    queue.clock.advance(minutes=1)
    await queue.holder.resolve(SAM, second.ticket_id, "none")

    resolution = (await queue.conversations.require_thread(first.thread_id)).resolution
    assert resolution is not None
    assert (resolution.ticket_id, resolution.agent_name) == (second.ticket_id, "Sam")


async def test_answers_and_reviews_are_no_resolution_of_the_conversation(queue: Queue) -> None:
    question = await queue.claimed("question")
    await queue.holder.answer(ALEX, question.ticket_id, "Yes, on Monday.")
    approval = await queue.claimed("approval")
    await queue.holder.approve(ALEX, approval.ticket_id, None)

    for ticket in (question, approval):
        assert (await queue.conversations.require_thread(ticket.thread_id)).resolution is None


async def test_a_resolution_left_by_a_failure_is_recorded_by_the_sweep(queue: Queue) -> None:
    """Stored with the resolve, carried out after it: what MongoDB being away left undone,
    the sweep finishes."""
    claimed = await queue.claimed()
    recording = queue.conversations.record_resolution

    async def away(*_: object) -> None:
        raise ConnectionError("MongoDB is unreachable")

    queue.conversations.record_resolution = away  # type: ignore[method-assign, assignment]
    await queue.holder.resolve(ALEX, claimed.ticket_id, "ai")
    assert any(e.kind == "resolution" for e in queue.tickets.follow_ups_of(claimed.ticket_id))
    assert (await queue.conversations.require_thread(claimed.thread_id)).resolution is None
    queue.conversations.record_resolution = recording  # type: ignore[method-assign]
    queue.clock.advance(minutes=1)
    await queue.sweep()

    thread = await queue.conversations.require_thread(claimed.thread_id)
    assert thread.resolution is not None
    assert thread.resolution.ticket_id == claimed.ticket_id


# ---------------------------------------------------------------- keeping ratings


async def test_a_rating_is_kept_and_counted_once_however_often_it_arrives(queue: Queue) -> None:
    ticket = await resolved_by(queue)
    before = counted("human", 4)
    event = await rated(queue, ticket.thread_id, 4)

    assert await Ratings(ratings=queue.ratings).record(event) is False
    assert list(queue.ratings.ratings) == [str(event.event_id)]
    assert counted("human", 4) == before + 1


# ---------------------------------------------------------------- reports


async def test_the_satisfaction_report_per_agent_department_and_ai_against_human(
    queue: Queue,
) -> None:
    alex_billing = await resolved_by(queue, ALEX, "billing")
    sam_support = await resolved_by(queue, SAM, "support")
    sam_billing = await resolved_by(queue, SAM, "billing")
    ai_thread = await queue.thread("billing")
    await rated(queue, alex_billing.thread_id, 5)
    await rated(queue, sam_support.thread_id, 2, comment="Slow.")
    await rated(queue, sam_billing.thread_id, 4)
    await rated(queue, ai_thread.thread_id, 1)

    report = await queue.reports.satisfaction(NOW - timedelta(days=7), NOW + timedelta(days=1))

    assert (report.overall.count, report.overall.average, report.overall.csat) == (4, 3.0, 0.5)
    assert report.overall.distribution == {"1": 1, "2": 1, "3": 0, "4": 1, "5": 1}
    assert (report.resolved_by.ai.count, report.resolved_by.ai.average) == (1, 1.0)
    assert (report.resolved_by.human.count, report.resolved_by.human.average) == (3, 3.67)
    assert [(a.agent_name, a.count, a.average) for a in report.agents] == [
        ("Sam", 2, 3.0),
        ("Alex", 1, 5.0),
    ]
    assert [(d.department, d.count, d.average) for d in report.departments] == [
        ("billing", 3, 3.33),
        ("support", 1, 2.0),
    ]


def rating(score: int, at: datetime, **fields: Any) -> Rating:
    defaults: dict[str, Any] = {
        "rating_id": str(uuid.uuid4()),
        "thread_id": "th-1",
        "resolved_by": "ai",
        "via": "api",
    }
    return Rating(**(defaults | fields), score=score, rated_at=at)


def test_the_report_counts_the_period_only_and_every_score() -> None:
    since, until = NOW, NOW + timedelta(days=1)
    ratings = [
        rating(5, since - timedelta(seconds=1)),  # before the period
        rating(3, since),
        rating(4, until - timedelta(seconds=1), department="billing"),
        rating(1, until),  # the end is excluded
    ]

    report = satisfaction_report(ratings, since=since, until=until)

    assert report.overall.count == 2
    assert report.overall.distribution == {"1": 0, "2": 0, "3": 1, "4": 1, "5": 0}
    assert (report.overall.average, report.overall.csat) == (3.5, 0.5)
    assert report.resolved_by.human.model_dump() == {
        "count": 0,
        "average": None,
        "csat": None,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0},
    }
    assert report.agents == []
    assert [(d.department, d.count) for d in report.departments] == [("billing", 1), (None, 1)]


async def test_the_labour_report_shows_each_agents_ratings(queue: Queue) -> None:
    first = await resolved_by(queue, ALEX)
    second = await resolved_by(queue, ALEX)
    await resolved_by(queue, SAM)
    await rated(queue, first.thread_id, 5)
    await rated(queue, second.thread_id, 2)

    report = await queue.reports.labour(NOW - timedelta(hours=1), queue.clock())

    assert {a.agent_name: (a.ratings, a.rating_avg) for a in report.agents} == {
        "Alex": (2, 3.5),
        "Sam": (0, None),
    }
    assert {row.ticket_id: row.rating for row in report.tickets} == {
        first.ticket_id: 5,
        second.ticket_id: 2,
        report.tickets[2].ticket_id: None,
    }


async def test_the_satisfaction_route_is_the_admins(queue: Queue) -> None:
    ticket = await resolved_by(queue)
    await rated(queue, ticket.thread_id, 5)
    agents = Agents(queue.agents)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(
        api_router(
            agents=agents,
            admin_token=SecretStr(ADMIN),
            reading=queue.reading,
            claims=queue.claims,
            holder=queue.holder,
            reports=queue.reports,
        )
    )
    alex = await agents.create("Alex", ["billing"])
    admin = {"Authorization": f"Bearer {ADMIN}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://queue.test") as http:
        path = "/v1/admin/satisfaction"
        period = {"since": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z"}
        answer = await http.get(path, params=period, headers=admin)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["resolved_by"]["human"]["count"] == 1
        assert [(a["agent_name"], a["average"]) for a in body["agents"]] == [("Alex", 5.0)]

        as_agent = await http.get(path, headers={"Authorization": f"Bearer {alex.token}"})
        assert (as_agent.status_code, as_agent.json()["code"]) == (401, "invalid_token")
        backwards = {"since": period["until"], "until": period["since"]}
        refused = await http.get(path, params=backwards, headers=admin)
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_period")
        no_offset = await http.get(path, params={"since": "2026-03-01"}, headers=admin)
        assert (no_offset.status_code, no_offset.json()["code"]) == (422, "invalid_request")


def test_baton_queue_satisfaction_prints_one_line_per_scope() -> None:
    ratings = [
        rating(5, NOW, resolved_by="human", agent_id="agent-alex", agent_name="Alex"),
        rating(2, NOW, department="billing"),
    ]
    report = satisfaction_report(ratings, since=NOW, until=NOW + timedelta(hours=1))

    assert lines(report) == [
        "scope\tname\tratings\taverage\tcsat\tscores",
        "overall\t\t2\t3.50\t50%\t1:0 2:1 3:0 4:0 5:1",
        "resolved_by\tai\t1\t2.00\t0%\t1:0 2:1 3:0 4:0 5:0",
        "resolved_by\thuman\t1\t5.00\t100%\t1:0 2:0 3:0 4:0 5:1",
        "agent\tAlex (agent-alex)\t1\t5.00\t100%\t1:0 2:0 3:0 4:0 5:1",
        "department\tbilling\t1\t2.00\t0%\t1:0 2:1 3:0 4:0 5:0",
        "department\t(none)\t1\t5.00\t100%\t1:0 2:0 3:0 4:0 5:1",
    ]
