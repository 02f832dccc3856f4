"""Ingest's composition root: the one place that wires adapters into handlers."""

from __future__ import annotations

import functools
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from baton_contracts import MessageSubmitted, topics
from baton_conversations import Conversations
from baton_runtime import (
    KafkaEventPublisher,
    build_broker,
    connect_mongo,
    database,
    error_response,
    event_runner,
    every,
    service_app,
    subscribe,
)

from .api import api_router
from .front import Front
from .handlers import on_message_submitted
from .limits import RateLimitedError, RateLimits, TokenBuckets
from .registry import Gateways
from .settings import Settings
from .store import MongoGateways
from .usecases import Ingest

SERVICE = "baton-ingest"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    broker = build_broker(settings.kafka, client_id=SERVICE)
    mongo = connect_mongo(settings.mongo, app_name=SERVICE)
    db = database(mongo, settings.mongo)
    publisher = KafkaEventPublisher(broker, settings.kafka)
    conversations = Conversations(db, publisher)
    ingest = Ingest(conversations=conversations, max_text_length=settings.max_text_length)
    gateway_store = MongoGateways(db)
    gateways = Gateways(gateway_store)
    front = Front(ingest=ingest, conversations=conversations, limits=rate_limits(settings))

    consumer = subscribe(
        settings.kafka,
        event_runner(broker, publisher, service=SERVICE),
        topic=topics.MESSAGE_SUBMITTED,
        group=SERVICE,
        event_type=MessageSubmitted,
        handler=functools.partial(on_message_submitted, ingest=ingest),
    )

    # Ingest, the conversations' front door, is the one service that sweeps their outboxes:
    # what a crash left unannounced (a message, an ownership change) goes out after the grace.
    async def sweep() -> None:
        await conversations.sweep(older_than=timedelta(seconds=settings.recovery_grace_s))

    app = service_app(
        title="Baton ingest",
        summary="Gateways submit user messages; threads and their history.",
        broker=broker,
        mongo=mongo,
        db=db,
        kafka=settings.kafka,
        http=settings.http,
        topics=topics.ALL,
        consumers=[consumer],
        on_start=[conversations.ensure_indexes, gateway_store.ensure_indexes],
        background=[every(settings.recovery_interval_s, sweep, what="recovery sweep")],
    )
    app.add_exception_handler(RateLimitedError, rate_limited)
    app.include_router(api_router(front=front, gateways=gateways, admin_token=settings.admin_token))
    return app


def rate_limits(settings: Settings) -> RateLimits:
    def buckets(rate: float, burst: int) -> TokenBuckets:
        return TokenBuckets(rate=rate, burst=burst, tracked=settings.rate_limit_tracked)

    return RateLimits(
        per_key=buckets(settings.rate_limit_key_rps, settings.rate_limit_key_burst),
        per_user=buckets(settings.rate_limit_user_rps, settings.rate_limit_user_burst),
    )


async def rate_limited(_: Request, exc: Exception) -> JSONResponse:
    """The refusal's usual answer, with the ``Retry-After`` a client waits for."""
    assert isinstance(exc, RateLimitedError)
    return error_response(
        exc.status, exc.code, exc.message, headers={"Retry-After": exc.retry_after}
    )
