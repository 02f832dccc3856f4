"""A human queue of one test module's own: its own topics, its own database and its own
settings (short leases, second-long clocks, ...), served on a loopback port, with a
recorder of the topics the module watches and a producer to publish with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from baton_human_queue.app import create_app as create_human_queue
from baton_human_queue.settings import Settings as QueueSettings
from baton_runtime import Document, KafkaSettings, MongoSettings, build_broker

from .pipeline import ADMIN_TOKEN
from .recorder import Recorder, record_topics
from .serving import serving


@dataclass
class ServedQueue:
    http: httpx.AsyncClient
    kafka: KafkaSettings
    db: AsyncDatabase[Document]
    recorder: Recorder
    producer: KafkaBroker


Q = TypeVar("Q", bound=ServedQueue)


@asynccontextmanager
async def served_queue(
    kind: type[Q],
    kafka_settings: KafkaSettings,
    mongo_settings: MongoSettings,
    mongo_client: AsyncMongoClient[Document],
    *,
    name: str,
    watch: Sequence[str],
    **settings: Any,
) -> AsyncIterator[Q]:
    """A ``kind`` around a human queue named ``name`` (its topic prefix and database take
    the name), with ``settings`` on top of the test ones; its database is dropped after."""
    kafka = kafka_settings.model_copy(
        update={"topic_prefix": f"{kafka_settings.topic_prefix}{name}."}
    )
    mongo = mongo_settings.model_copy(update={"database": f"{mongo_settings.database}_{name}"})
    queue = QueueSettings(kafka=kafka, mongo=mongo, env="test", admin_token=ADMIN_TOKEN, **settings)
    producer = build_broker(kafka, client_id=f"test-{name}")
    try:
        async with (
            serving(create_human_queue(queue)) as url,
            record_topics(kafka, *watch) as recorder,
            producer,
            httpx.AsyncClient(base_url=url, timeout=10) as http,
        ):
            await producer.start()
            yield kind(http, kafka, mongo_client[mongo.database], recorder, producer)
    finally:
        await mongo_client.drop_database(mongo.database)
