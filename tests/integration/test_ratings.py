"""Customer satisfaction (CSAT) through real Kafka, MongoDB and HTTP: a resolution recorded
on its thread, the user's rating taken once per resolution (over the rating route, or as a
lone digit), announced as ``thread.rated`` and reported by the human queue per agent, per
department, and AI against human."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import MessageReceived, RouteDecided, ThreadRated, utc_now
from baton_conversations import Because, Conversations, ThreadResolution
from baton_human_queue.cli import main as baton_queue
from baton_runtime import Document
from tests.support.gateways import ADMIN, refused
from tests.support.memory import DeadPublisher, MemoryPublisher
from tests.support.pipeline import Pipeline
from tests.support.queue import AgentClient, department, new_agent, token
from tests.support.recorder import in_thread
from tests.support.waiting import eventually

# ---------------------------------------------------------------- the conversation core


@pytest.fixture
async def core(db: AsyncDatabase[Document]) -> Conversations:
    conversations = Conversations(db, MemoryPublisher())
    await conversations.ensure_indexes()
    return conversations


def resolution(ticket_id: str, at: datetime, agent: str = "Alex") -> ThreadResolution:
    return ThreadResolution(
        ticket_id=ticket_id,
        agent_id=f"agent-{agent.lower()}",
        agent_name=agent,
        agent_department="billing",
        department="billing",
        at=at,
    )


def because() -> Because:
    event_id = uuid.uuid4()
    return Because(event_id=event_id, correlation_id=event_id, causation_id=None)


async def test_concurrent_ratings_of_one_resolution_record_exactly_one(
    core: Conversations, db: AsyncDatabase[Document]
) -> None:
    """Writers in several processes (each its own core) race for the same resolution: the
    conditional update lets one through, with its event."""
    thread = await core.open_thread(user_id="u", channel="web", department=None, metadata={})
    await core.record_resolution(thread.thread_id, resolution("t-1", utc_now()))
    thread = await core.require_thread(thread.thread_id)
    publishers = [MemoryPublisher() for _ in range(4)]
    writers = [Conversations(db, publisher) for publisher in publishers]

    results = await asyncio.gather(
        *(
            writers[i % 4].rate(thread, score=1 + i % 5, comment=None, via="api", because=because())
            for i in range(40)
        )
    )

    [winner] = [r for r in results if r is not None]
    assert [e for p in publishers for e in p.of_type(ThreadRated)] == [winner]
    stored = await core.require_thread(thread.thread_id)
    assert stored.rating is not None
    assert (stored.rating.key, stored.rating.event_id, stored.rating.score) == (
        "ticket:t-1",
        str(winner.event_id),
        winner.score,
    )
    assert (winner.resolved_by, winner.ticket_id) == ("human", "t-1")
    # The same rating again is found, not refused; another is refused.
    again = await core.rate(
        stored,
        score=winner.score,
        comment=None,
        via="api",
        because=Because(winner.event_id, winner.correlation_id, None),
    )
    assert again is not None
    assert (again.event_id, again.score) == (winner.event_id, winner.score)
    assert await core.rate(stored, score=5, comment=None, via="api", because=because()) is None


async def test_the_latest_resolution_stays_whatever_order_the_follow_ups_run_in(
    core: Conversations,
) -> None:
    thread = await core.open_thread(user_id="u", channel="web", department=None, metadata={})
    earlier, later = utc_now(), utc_now() + timedelta(minutes=5)
    await core.record_resolution(thread.thread_id, resolution("t-2", later, "Sam"))
    await core.record_resolution(thread.thread_id, resolution("t-1", earlier))  # the sweep, late
    await core.record_resolution(thread.thread_id, resolution("t-2", later, "Sam"))  # again

    stored = await core.require_thread(thread.thread_id)
    assert stored.resolution is not None
    assert (stored.resolution.ticket_id, stored.resolution.agent_name) == ("t-2", "Sam")


async def test_a_rating_whose_announcement_failed_goes_out_with_the_sweep(
    db: AsyncDatabase[Document],
) -> None:
    crashed = Conversations(db, DeadPublisher())
    thread = await crashed.open_thread(user_id="u", channel=None, department=None, metadata={})

    event = await crashed.rate(thread, score=4, comment="ok", via="api", because=because())

    assert event is not None  # recorded, its announcement waiting in the thread's outbox
    publisher = MemoryPublisher()
    assert await Conversations(db, publisher).sweep(older_than=timedelta(0)) == 1
    assert publisher.of_type(ThreadRated) == [event]


# ---------------------------------------------------------------- through the services


async def agent(pipeline: Pipeline, name: str, *departments: str) -> AgentClient:
    return await new_agent(pipeline.queue, pipeline.admin_token, name, *departments)


async def resolved_conversation(
    pipeline: Pipeline, alex: AgentClient, dept: str, *, handback: str = "ai"
) -> tuple[str, dict[str, Any]]:
    """A thread given to people, answered and resolved by ``alex``."""
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want to talk to a human {token()}")
    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")
    await alex.act(ticket["ticket_id"], "claim")
    await alex.act(ticket["ticket_id"], "reply", {"text": "Done: your refund is on its way."})
    await alex.act(ticket["ticket_id"], "resolve", {"handback": handback})
    return thread_id, ticket


async def rate(pipeline: Pipeline, thread_id: str, body: Any, **kwargs: Any) -> httpx.Response:
    return await pipeline.ingest.post(f"/v1/threads/{thread_id}/rating", json=body, **kwargs)


async def report(pipeline: Pipeline, path: str, since: datetime) -> dict[str, Any]:
    response = await pipeline.queue.get(
        f"/v1/admin/{path}",
        params={
            "since": since.isoformat(),
            "until": (utc_now() + timedelta(minutes=1)).isoformat(),
        },
        headers=ADMIN,
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


@pytest.fixture
async def other_gateway(pipeline: Pipeline) -> AsyncIterator[httpx.AsyncClient]:
    body = {"name": f"other {token()}", "channels": ["web"]}
    created = await pipeline.ingest.post("/v1/admin/gateways", json=body, headers=ADMIN)
    assert created.status_code == 201, created.text
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    async with httpx.AsyncClient(base_url=pipeline.urls["ingest"], headers=key) as http:
        yield http


async def test_a_rating_is_recorded_once_and_reported_per_agent_department_and_ai(
    pipeline: Pipeline, other_gateway: httpx.AsyncClient
) -> None:
    start = utc_now() - timedelta(seconds=1)
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    before = (await report(pipeline, "satisfaction", start))["resolved_by"]
    thread_id, ticket = await resolved_conversation(pipeline, alex, dept)

    first = await rate(pipeline, thread_id, {"score": 5, "comment": "Alex sorted it out."})
    assert first.status_code == 201, first.text
    assert {k: first.json()[k] for k in ("thread_id", "score", "resolved_by")} == {
        "thread_id": thread_id,
        "score": 5,
        "resolved_by": "human",
    }
    refused(await rate(pipeline, thread_id, {"score": 1}), 409, "already_rated")
    refused(
        await other_gateway.post(f"/v1/threads/{thread_id}/rating", json={"score": 1}),
        404,
        "unknown_thread",
    )
    refused(await rate(pipeline, "no-such-thread", {"score": 1}), 404, "unknown_thread")
    async with httpx.AsyncClient(base_url=pipeline.urls["ingest"]) as anonymous:
        no_key = await anonymous.post(f"/v1/threads/{thread_id}/rating", json={"score": 1})
        refused(no_key, 401, "unauthenticated")

    # A conversation the AI had alone is the AI's to be rated.
    ai_thread = await pipeline.new_thread(department=dept)
    ai_rated = await rate(pipeline, ai_thread, {"score": 2})
    assert (ai_rated.status_code, ai_rated.json()["resolved_by"]) == (201, "ai")

    [event] = await pipeline.recorder.wait_for(ThreadRated, in_thread(thread_id))
    assert (event.event_id, event.via, event.ticket_id, event.department) == (
        uuid.UUID(first.json()["rating_id"]),
        "api",
        ticket["ticket_id"],
        dept,
    )
    assert event.agent is not None
    assert (event.agent.agent_id, event.comment) == (alex.agent_id, "Alex sorted it out.")

    async def reported() -> dict[str, Any] | None:
        found = await report(pipeline, "satisfaction", start)
        rows = {d["department"]: d for d in found["departments"]}
        return found if rows.get(dept, {}).get("count") == 2 else None

    satisfaction = await eventually(reported, what="both ratings in the satisfaction report")
    [row] = [d for d in satisfaction["departments"] if d["department"] == dept]
    assert (row["average"], row["csat"]) == (3.5, 0.5)
    assert row["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
    [alex_row] = [a for a in satisfaction["agents"] if a["agent_id"] == alex.agent_id]
    assert (alex_row["agent_name"], alex_row["count"], alex_row["average"]) == ("Alex", 1, 5.0)
    after = satisfaction["resolved_by"]
    assert after["human"]["count"] == before["human"]["count"] + 1
    assert after["ai"]["count"] == before["ai"]["count"] + 1

    labour = await report(pipeline, "labour", start)
    [labour_row] = [a for a in labour["agents"] if a["agent_id"] == alex.agent_id]
    assert (labour_row["ratings"], labour_row["rating_avg"]) == (1, 5.0)
    [ticket_row] = [t for t in labour["tickets"] if t["ticket_id"] == ticket["ticket_id"]]
    assert ticket_row["rating"] == 5


async def test_ratings_racing_over_http_make_one(pipeline: Pipeline) -> None:
    thread_id = await pipeline.new_thread()
    answers = await asyncio.gather(*(rate(pipeline, thread_id, {"score": 4}) for _ in range(20)))
    assert sorted(a.status_code for a in answers) == [201] + [409] * 19
    await pipeline.recorder.wait_for(ThreadRated, in_thread(thread_id))
    await asyncio.sleep(0.5)
    assert len(pipeline.recorder.events(ThreadRated, in_thread(thread_id))) == 1


async def test_a_lone_digit_after_a_resolution_is_the_rating_and_nobody_answers_it(
    pipeline: Pipeline,
) -> None:
    start = utc_now() - timedelta(seconds=1)
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    # People keep the thread: any message of the user's would go to the queue again.
    thread_id, ticket = await resolved_conversation(pipeline, alex, dept, handback="none")

    rating_message = await pipeline.say(thread_id, " 4 ")

    [event] = await pipeline.recorder.wait_for(ThreadRated, in_thread(thread_id))
    assert (event.score, event.via, event.ticket_id) == (4, "text", ticket["ticket_id"])
    [received] = await pipeline.recorder.wait_for(
        MessageReceived, lambda e: e.message_id == rating_message
    )
    assert received.respond is False
    shown = (await pipeline.ingest.get(f"/v1/threads/{thread_id}/messages")).json()["messages"]
    assert shown[-1]["text"] == " 4 "
    # Rated: the next lone digit is an ordinary message, routed to people as usual. The
    # router handles a thread's messages in order, so once this one is decided, the
    # rating would have been too.
    later = await pipeline.say(thread_id, "4")
    await pipeline.recorder.wait_for(RouteDecided, lambda e: e.message_id == later)
    assert pipeline.recorder.events(RouteDecided, lambda e: e.message_id == rating_message) == []
    [reopened] = await alex.wait_for_ticket(thread_id, kind="conversation")
    assert reopened["message_ids"] == [str(later)]
    assert len(pipeline.recorder.events(ThreadRated, in_thread(thread_id))) == 1

    async def reported() -> list[dict[str, Any]] | None:
        found = await report(pipeline, "satisfaction", start)
        rows = [a for a in found["agents"] if a["agent_id"] == alex.agent_id]
        return rows or None

    [row] = await eventually(reported, what="the rating by text in the report")
    assert (row["count"], row["distribution"]["4"]) == (1, 1)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"score": 0}, "invalid_score"),
        ({"score": 6}, "invalid_score"),
        ({"score": -3}, "invalid_score"),
        ({"score": "5"}, "invalid_request"),
        ({"score": 4.5}, "invalid_request"),
        ({"score": True}, "invalid_request"),
        ({"score": None}, "invalid_request"),
        ({}, "invalid_request"),
        ({"score": 5, "agent_id": "agent-me"}, "invalid_request"),
        ({"score": 5, "resolved_by": "human"}, "invalid_request"),
        ({"score": 5, "comment": 42}, "invalid_request"),
        ({"score": 5, "comment": "x" * 2001}, "invalid_comment"),
        ({"score": 5, "comment": "bell \u0007"}, "invalid_comment"),
        ([5], "invalid_request"),
    ],
)
async def test_a_bad_rating_is_a_clear_422_and_stores_nothing(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document], body: Any, code: str
) -> None:
    thread_id = await pipeline.new_thread()

    detail = refused(await rate(pipeline, thread_id, body), 422, code)

    assert detail
    threads = mongo_client[pipeline.mongo.database]["threads"]
    stored = await threads.find_one({"_id": thread_id})
    assert stored is not None
    assert "rating" not in stored
    # Refused, not spent: a good rating is taken afterwards, and it is the only one.
    assert (await rate(pipeline, thread_id, {"score": 5, "comment": "x" * 2000})).status_code == 201
    [event] = await pipeline.recorder.wait_for(ThreadRated, in_thread(thread_id))
    assert event.score == 5


async def test_malformed_json_is_refused(pipeline: Pipeline) -> None:
    thread_id = await pipeline.new_thread()
    response = await pipeline.ingest.post(
        f"/v1/threads/{thread_id}/rating",
        content=b'{"score": 5',
        headers={"content-type": "application/json"},
    )
    refused(response, 422, "invalid_json")


async def test_baton_queue_prints_the_satisfaction_report(
    pipeline: Pipeline,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    start = utc_now() - timedelta(seconds=1)
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    thread_id, _ = await resolved_conversation(pipeline, alex, dept)
    assert (await rate(pipeline, thread_id, {"score": 4})).status_code == 201
    monkeypatch.setenv("MONGODB_URL", pipeline.mongo.url.get_secret_value())
    monkeypatch.setenv("MONGODB_DATABASE", pipeline.mongo.database)

    def run(*argv: str) -> tuple[int, str, str]:
        code = baton_queue(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    async def printed() -> list[str] | None:
        code, out, _ = await asyncio.to_thread(run, "satisfaction", "--since", start.isoformat())
        assert code == 0
        return [line for line in out.splitlines() if line.startswith(f"department\t{dept}\t")]

    [line] = await eventually(printed, what="the rating in baton-queue satisfaction")
    assert line.split("\t")[2:5] == ["1", "4.00", "100%"]
    code, out, _ = await asyncio.to_thread(
        run, "satisfaction", "--json", "--since", start.isoformat()
    )
    assert code == 0
    [row] = [a for a in json.loads(out)["agents"] if a["agent_id"] == alex.agent_id]
    assert row["count"] == 1
    code, _, err = await asyncio.to_thread(
        run, "satisfaction", "--since", "2026-03-02T00:00:00Z", "--until", "2026-03-01T00:00:00Z"
    )
    assert (code, "before" in err) == (2, True)
