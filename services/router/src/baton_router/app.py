"""The router's composition root."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

import openai
from fastapi import FastAPI

from baton_contracts import MessageReceived, topics, utc_now
from baton_conversations import Conversations, Escalations
from baton_runtime import (
    HandledEvents,
    KafkaEventPublisher,
    Outbox,
    build_broker,
    configure_tracing,
    connect_mongo,
    database,
    event_runner,
    every,
    service_app,
    subscribe,
)

from .classifier import Classifier, LlmClassifier
from .handlers import on_message_received
from .settings import Settings
from .usecases import Router, RoutingConfig

SERVICE = "baton-router"


def build_classifier(settings: Settings) -> Classifier | None:
    if not settings.classifier_enabled:
        return None
    client = openai.AsyncOpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unset",
        timeout=settings.classifier_timeout_s,
        max_retries=1,
    )
    return LlmClassifier(
        client, model=settings.classifier_model, max_concurrent=settings.classifier_max_concurrent
    )


def create_app(
    settings: Settings | None = None,
    *,
    classifier: Classifier | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> FastAPI:
    settings = settings or Settings()
    configure_tracing(SERVICE)
    broker = build_broker(settings.kafka, client_id=SERVICE)
    mongo = connect_mongo(settings.mongo, app_name=SERVICE)
    db = database(mongo, settings.mongo)
    publisher = KafkaEventPublisher(broker, settings.kafka)
    outbox = Outbox(publisher)
    escalations = Escalations(db, settings.escalation)
    router = Router(
        conversations=Conversations(db, publisher),
        escalations=escalations,
        classifier=classifier or build_classifier(settings),
        config=RoutingConfig(
            rules=settings.rule_set().rules,
            min_confidence=settings.classifier_min_confidence,
            hours=settings.business_hours.table(),
        ),
        clock=clock,
    )
    runner = event_runner(
        broker,
        publisher,
        service=SERVICE,
        handled=HandledEvents(db, service=SERVICE, outbox=outbox),
    )
    consumer = subscribe(
        settings.kafka,
        runner,
        topic=topics.MESSAGE_RECEIVED,
        group=SERVICE,
        event_type=MessageReceived,
        handler=functools.partial(on_message_received, router=router),
    )

    return service_app(
        title="Baton router",
        service=SERVICE,
        broker=broker,
        mongo=mongo,
        db=db,
        kafka=settings.kafka,
        topics=topics.ALL,
        consumers=[consumer],
        on_start=[escalations.ensure_indexes],
        # The counters of windows that are over go, once a window.
        background=[
            every(settings.escalation.window_s, escalations.forget_past, what="escalation counters")
        ],
    )
