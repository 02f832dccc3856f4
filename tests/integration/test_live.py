"""The live console through real Kafka, MongoDB and HTTP: what an agent's stream hears,
stream-ticket refusals, and a change through one instance reaching another's stream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import ToolHumanRequested
from baton_conversations import Conversations
from baton_human_queue.app import create_app as create_human_queue
from baton_human_queue.live import LiveSettings
from baton_human_queue.live.access import hash_ticket
from baton_human_queue.settings import Settings as QueueSettings
from baton_runtime import (
    Document,
    KafkaEventPublisher,
    KafkaSettings,
    MongoSettings,
    build_broker,
)
from tests.support.live import STREAM, live_stream, stream_ticket, ticket_event
from tests.support.memory import MemoryPublisher
from tests.support.pipeline import ADMIN_TOKEN, Pipeline
from tests.support.queue import AgentClient, department, new_agent, token
from tests.support.serving import serving

pytestmark = pytest.mark.integration


async def agent(pipeline: Pipeline, name: str, *departments: str) -> AgentClient:
    return await new_agent(pipeline.queue, pipeline.admin_token, name, *departments)


async def handed_to_people(pipeline: Pipeline, dept: str) -> str:
    """A thread of ``dept`` the router gives to people (a conversation ticket follows)."""
    thread_id = await pipeline.new_thread(department=dept)
    await pipeline.say(thread_id, f"I want to talk to a human {token()}")
    return thread_id


async def test_a_stream_hears_of_its_departments_new_ticket_and_not_of_others(
    pipeline: Pipeline,
) -> None:
    mine, theirs = department(), department()
    alex = await agent(pipeline, "Alex", mine)
    sam = await agent(pipeline, "Sam", theirs)
    async with live_stream(alex) as alex_hears:
        # The other department's ticket is stored first, so the feed would push it first.
        other_thread = await handed_to_people(pipeline, theirs)
        [other] = await sam.wait_for_ticket(other_thread, kind="conversation")
        thread_id = await handed_to_people(pipeline, mine)
        heard = await alex_hears.wait_for(
            ticket_event(thread_id=thread_id), what="the new ticket of Alex's department"
        )
    assert heard.data["kind"] == "conversation"
    assert heard.data["department"] == mine
    [ticket] = await alex.wait_for_ticket(thread_id)
    assert heard.data["ticket_id"] == ticket["ticket_id"]
    assert alex_hears.about(other["ticket_id"]) == []
    assert not [e for e in alex_hears.events if e.data.get("thread_id") == other_thread]


async def test_a_stream_hears_of_each_change_of_a_ticket_its_agent_holds(
    pipeline: Pipeline,
) -> None:
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    thread_id = await handed_to_people(pipeline, dept)
    [ticket] = await alex.wait_for_ticket(thread_id, kind="conversation")
    ticket_id = ticket["ticket_id"]
    async with live_stream(alex) as hears:
        await alex.act(ticket_id, "claim")
        await hears.wait_for(
            ticket_event(ticket_id, status="assigned", holder_id=alex.agent_id), what="the claim"
        )
        claimed = len(hears.about(ticket_id))
        # The user writes again: the thread Alex holds changed.
        await pipeline.say(thread_id, "are you there?")
        await hears.wait_for(
            lambda e: len(hears.about(ticket_id)) > claimed, what="the user's new message"
        )
        await alex.act(ticket_id, "resolve", {"handback": "ai"})
        resolved = await hears.wait_for(ticket_event(ticket_id, status="resolved"), what="resolve")
    assert resolved.data["change"] == "updated"
    assert resolved.data["thread_id"] == thread_id


async def test_stream_tickets_are_refused_with_status_and_code(
    pipeline: Pipeline, mongo_client: AsyncMongoClient[Document], mongo_settings: MongoSettings
) -> None:
    dept = department()
    alex = await agent(pipeline, "Alex", dept)
    sam = await agent(pipeline, "Sam", dept)
    http = pipeline.queue

    async def refused(params: dict[str, str], headers: dict[str, str] | None = None) -> str:
        response = await http.get(STREAM, params=params, headers=headers or {})
        body = response.json()
        assert set(body) == {"detail", "code"}, body
        return f"{response.status_code} {body['code']}"

    minted = await http.post("/v1/agents/me/stream-ticket")
    assert (minted.status_code, minted.json()["code"]) == (401, "unauthenticated")
    assert await refused({}) == "401 unauthenticated"
    assert await refused({"ticket": "bqs_" + uuid.uuid4().hex}) == "401 invalid_stream_ticket"
    # The agent's own long-lived token is no stream ticket.
    assert await refused({"ticket": alex.token}) == "401 invalid_stream_ticket"

    used = await stream_ticket(alex)
    async with (
        httpx.AsyncClient(base_url=str(http.base_url)) as other,
        other.stream("GET", STREAM, params={"ticket": used}) as first,
    ):
        assert first.status_code == 200
        assert await refused({"ticket": used}) == "401 stream_ticket_used"

    expired = await stream_ticket(alex)
    tickets = mongo_client[mongo_settings.database]["stream_tickets"]
    past = datetime.now(UTC) - timedelta(seconds=1)
    await tickets.update_one({"_id": hash_ticket(expired)}, {"$set": {"expires_at": past}})
    assert await refused({"ticket": expired}) == "401 stream_ticket_expired"

    alexs = await stream_ticket(alex)
    assert await refused({"ticket": alexs}, sam.headers) == "403 stream_ticket_other_agent"


# ------------------------------------------------------------------ two instances


@dataclass
class TwoQueues:
    """Two human-queue instances on the same Kafka and MongoDB, as behind a load balancer."""

    first: httpx.AsyncClient
    second: httpx.AsyncClient
    kafka: KafkaSettings
    db: AsyncDatabase[Document]
    producer: KafkaBroker

    async def ask_people(self, dept: str) -> str:
        conversations = Conversations(self.db, MemoryPublisher())  # opens a thread only
        thread = await conversations.open_thread(
            user_id="u-live", channel="web", department=dept, metadata={}
        )
        request = ToolHumanRequested.first(
            thread_id=thread.thread_id,
            kind="escalation",
            request_id=uuid.uuid4(),
            message_id=uuid.uuid4(),
            reason="test escalation",
            department=dept,
        )
        await KafkaEventPublisher(self.producer, self.kafka).publish([request])
        return thread.thread_id


@pytest.fixture(scope="module")
async def two_queues(
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_client: AsyncMongoClient[Document],
) -> AsyncIterator[TwoQueues]:
    kafka = kafka_settings.model_copy(
        update={"topic_prefix": f"{kafka_settings.topic_prefix}live."}
    )
    mongo = mongo_settings.model_copy(update={"database": f"{mongo_settings.database}_live"})
    settings = QueueSettings(
        kafka=kafka,
        mongo=mongo,
        env="test",
        admin_token=ADMIN_TOKEN,
        # Re-checks often, so a deactivated agent's stream ends within the test.
        live=LiveSettings(poll_s=0.1, recheck_s=0.3, max_streams_per_agent=2),
    )
    producer = build_broker(kafka, client_id="test-live")
    try:
        async with (
            serving(create_human_queue(settings)) as first_url,
            serving(create_human_queue(settings)) as second_url,
            httpx.AsyncClient(base_url=first_url, timeout=10) as first,
            httpx.AsyncClient(base_url=second_url, timeout=10) as second,
            producer,
        ):
            await producer.start()
            yield TwoQueues(first, second, kafka, mongo_client[mongo.database], producer)
    finally:
        await mongo_client.drop_database(mongo.database)


async def test_a_change_through_one_instance_reaches_a_stream_on_another(
    two_queues: TwoQueues,
) -> None:
    dept = department()
    # Alex signs in on the first instance and streams from the second one.
    alex = await new_agent(two_queues.first, ADMIN_TOKEN, "Alex", dept)
    async with live_stream(alex, base_url=str(two_queues.second.base_url)) as hears:
        thread_id = await two_queues.ask_people(dept)
        created = await hears.wait_for(ticket_event(thread_id=thread_id), what="the new ticket")
        ticket_id = created.data["ticket_id"]
        await alex.act(ticket_id, "claim")  # through the first instance
        await hears.wait_for(
            ticket_event(ticket_id, holder_id=alex.agent_id, status="assigned"),
            what="the claim made through the other instance",
        )


async def test_an_agent_has_a_bounded_number_of_streams(two_queues: TwoQueues) -> None:
    alex = await new_agent(two_queues.first, ADMIN_TOKEN, "Alex", department())
    async with live_stream(alex), live_stream(alex):
        response = await two_queues.first.get(STREAM, params={"ticket": await stream_ticket(alex)})
        assert (response.status_code, response.json()["code"]) == (429, "too_many_streams")
    # Closed streams give their places back.
    async with live_stream(alex) as hears:
        assert hears.events[0].event == "ready"


async def test_the_stream_of_a_deactivated_agent_ends(two_queues: TwoQueues) -> None:
    alex = await new_agent(two_queues.first, ADMIN_TOKEN, "Alex", department())
    async with live_stream(alex) as hears:
        await two_queues.db["agents"].update_one(
            {"_id": alex.agent_id}, {"$set": {"active": False}}
        )
        end = await hears.wait_for(lambda e: e.event == "end", what="the end of the stream")
    assert end.data == {"reason": "revoked"}
