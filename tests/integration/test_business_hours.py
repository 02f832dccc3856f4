"""The router's out-of-hours fallback through real Kafka and MongoDB: a department closed
now whose fallback is ``ai`` keeps with the AI what a rule would give to people, unless the
user asks for a person; a department whose fallback is ``wait`` hands it over anyway."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import MessageReceived, RouteDecided, ThreadAssigned, topics
from baton_conversations import BusinessHoursSettings, Conversations
from baton_router.app import create_app as create_router
from baton_router.settings import Settings as RouterSettings
from baton_runtime import Document, KafkaEventPublisher, KafkaSettings, MongoSettings, build_broker
from tests.support.memory import MemoryPublisher
from tests.support.recorder import Recorder, in_thread, record_topics
from tests.support.serving import serving

BERLIN = ZoneInfo("Europe/Berlin")


def closed(out_of_hours: str) -> dict[str, object]:
    """Hours closed whenever the test runs: yesterday, today and tomorrow are holidays."""
    today = datetime.now(BERLIN).date()
    return {
        "timezone": "Europe/Berlin",
        "hours": {"mon-sun": "09:00-17:00"},
        "holidays": [(today + timedelta(days=d)).isoformat() for d in (-1, 0, 1)],
        "out_of_hours": out_of_hours,
    }


HOURS = {
    "departments": {
        "night-ai": closed("ai"),
        "night-wait": closed("wait"),
        "always": {"hours": {"mon-sun": "00:00-24:00"}, "out_of_hours": "ai"},
    }
}


@dataclass
class RouterUnderTest:
    kafka: KafkaSettings
    db: AsyncDatabase[Document]
    recorder: Recorder
    producer: KafkaBroker

    async def route(self, department: str, text: str) -> tuple[str, RouteDecided]:
        thread = await Conversations(self.db, MemoryPublisher()).open_thread(
            user_id=f"u-{uuid.uuid4().hex[:6]}", channel="web", department=department, metadata={}
        )
        event = MessageReceived.first(
            thread_id=thread.thread_id,
            message_id=uuid.uuid4(),
            text=text,
            user_id=thread.user_id,
            department=department,
        )
        await KafkaEventPublisher(self.producer, self.kafka).publish([event])
        [decided] = await self.recorder.wait_for(
            RouteDecided, in_thread(thread.thread_id), timeout=15
        )
        return thread.thread_id, decided


@pytest.fixture(scope="module")
async def router(
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_client: AsyncMongoClient[Document],
) -> AsyncIterator[RouterUnderTest]:
    kafka = kafka_settings.model_copy(
        update={"topic_prefix": f"{kafka_settings.topic_prefix}hours."}
    )
    mongo = mongo_settings.model_copy(update={"database": f"{mongo_settings.database}_hours"})
    settings = RouterSettings(
        kafka=kafka, mongo=mongo, business_hours=BusinessHoursSettings(hours=json.dumps(HOURS))
    )
    producer = build_broker(kafka, client_id="test-hours")
    try:
        async with (
            serving(create_router(settings)),
            record_topics(kafka, topics.ROUTE_DECIDED, topics.THREAD_ASSIGNED) as recorder,
            producer,
        ):
            await producer.start()
            yield RouterUnderTest(kafka, mongo_client[mongo.database], recorder, producer)
    finally:
        await mongo_client.drop_database(mongo.database)


async def test_out_of_hours_the_ai_keeps_what_a_rule_would_give_to_people(
    router: RouterUnderTest,
) -> None:
    thread_id, decided = await router.route("night-ai", "I will talk to my lawyer")

    assert (decided.handler, decided.strategy) == ("ai", "out_of_hours")
    assert decided.reason.startswith("people are away until ")
    assert "legal action" in decided.reason
    thread = await Conversations(router.db, MemoryPublisher()).require_thread(thread_id)
    assert thread.owner == "ai"
    assert router.recorder.events(ThreadAssigned, in_thread(thread_id)) == []

    # Open around the clock: the same message goes to people.
    _, open_now = await router.route("always", "I will talk to my lawyer")
    assert (open_now.handler, open_now.strategy) == ("human", "rule")


async def test_out_of_hours_an_explicit_request_or_a_waiting_department_goes_to_people(
    router: RouterUnderTest,
) -> None:
    thread_id, asked = await router.route("night-ai", "Can I talk to a human please?")
    assert (asked.handler, asked.strategy) == ("human", "rule")
    [assigned] = await router.recorder.wait_for(ThreadAssigned, in_thread(thread_id))
    assert assigned.owner == "human"

    _, waits = await router.route("night-wait", "I will talk to my lawyer")
    assert (waits.handler, waits.strategy) == ("human", "rule")
