"""A contracts event through real Kafka into real MongoDB, and back out equal."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from pymongo import AsyncMongoClient

from baton_contracts import Event, MessageReceived, topics
from baton_runtime import (
    Document,
    KafkaEventPublisher,
    KafkaSettings,
    MongoSettings,
    build_broker,
    event_runner,
    subscribe,
)
from tests.support.recorder import record_topics
from tests.support.waiting import eventually


async def test_event_round_trip_through_kafka_and_mongodb(
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_client: AsyncMongoClient[Document],
) -> None:
    collection = mongo_client[mongo_settings.database]["smoke"]
    thread_id = f"smoke-{uuid.uuid4().hex[:8]}"
    sent = MessageReceived.first(thread_id=thread_id, message_id=uuid.uuid4(), text="hi")

    consumer_broker = build_broker(kafka_settings, client_id="smoke-consumer")

    async def store(event: MessageReceived) -> Sequence[Event]:
        await collection.insert_one({"_id": str(event.event_id), "json": event.model_dump_json()})
        return ()

    consumer = subscribe(
        kafka_settings,
        event_runner(
            consumer_broker,
            KafkaEventPublisher(consumer_broker, kafka_settings),
            service="smoke",
        ),
        topic=topics.MESSAGE_RECEIVED,
        group="smoke",
        event_type=MessageReceived,
        handler=store,
    )
    producer_broker = build_broker(kafka_settings, client_id="smoke-producer")

    async with (
        record_topics(kafka_settings, topics.MESSAGE_RECEIVED) as recorder,
        consumer_broker,
        producer_broker,
    ):
        await consumer_broker.start()
        await consumer.start()
        await producer_broker.start()
        try:
            await KafkaEventPublisher(producer_broker, kafka_settings).publish([sent])

            async def stored() -> Document | None:
                return await collection.find_one({"_id": str(sent.event_id)})

            document = await eventually(stored, what="the event stored in MongoDB")
            seen = await recorder.wait_for(MessageReceived, lambda e: e.event_id == sent.event_id)
        finally:
            await consumer.stop()

    assert MessageReceived.model_validate_json(document["json"]) == sent
    assert seen == [sent]
    [record] = [r for r in recorder.records if r.event == sent]
    assert record.key == thread_id.encode()
