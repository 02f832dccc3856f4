"""Ingest's composition root: the one place that wires adapters into handlers."""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import timedelta

from fastapi import FastAPI

from baton_contracts import MessageSubmitted, topics
from baton_runtime.consumer import EventRunner, KafkaDeadLetters, subscribe
from baton_runtime.history import MongoHistory
from baton_runtime.kafka import KafkaEventPublisher, build_broker
from baton_runtime.mongo import connect_mongo, database
from baton_runtime.service import service_app

from .api import api_router
from .handlers import on_message_submitted
from .service import Ingest
from .settings import Settings

SERVICE = "baton-ingest"
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    broker = build_broker(settings.kafka, client_id=SERVICE)
    mongo = connect_mongo(settings.mongo, app_name=SERVICE)
    db = database(mongo, settings.mongo)
    history = MongoHistory(db)
    publisher = KafkaEventPublisher(broker, settings.kafka)
    ingest = Ingest(history=history, publisher=publisher, max_text_length=settings.max_text_length)

    subscribe(
        broker,
        settings.kafka,
        topic=topics.MESSAGE_SUBMITTED,
        group=SERVICE,
        event_type=MessageSubmitted,
        handler=functools.partial(on_message_submitted, ingest=ingest),
        runner=EventRunner(
            publisher=publisher,
            dead_letters=KafkaDeadLetters(broker, service=SERVICE),
            service=SERVICE,
        ),
    )

    async def sweep_forever() -> None:
        grace = timedelta(seconds=settings.recovery_grace_s)
        while True:
            await asyncio.sleep(settings.recovery_interval_s)
            try:
                await ingest.republish_pending(older_than=grace)
            except Exception:
                log.exception("recovery sweep failed; retrying next interval")

    app = service_app(
        title="Baton ingest",
        summary="Gateways submit user messages; threads and their history.",
        broker=broker,
        mongo=mongo,
        db=db,
        kafka=settings.kafka,
        topics=topics.ALL,
        on_start=[history.ensure_indexes],
        background=[sweep_forever],
    )
    app.include_router(api_router(ingest))
    return app
