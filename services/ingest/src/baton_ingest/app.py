"""Ingest's composition root: the one place that wires adapters into handlers."""

from __future__ import annotations

import functools
from datetime import timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from baton_contracts import (
    MessageDelta,
    MessageSent,
    MessageSubmitted,
    ThreadAssigned,
    topics,
    utc_now,
)
from baton_conversations import Conversations
from baton_runtime import (
    KafkaEventPublisher,
    build_broker,
    configure_tracing,
    connect_mongo,
    database,
    error_response,
    event_runner,
    every,
    service_app,
    subscribe,
)

from .api import api_router
from .chat import chat_router
from .front import Front
from .handlers import on_message_submitted
from .limits import RateLimitedError, RateLimits, TokenBuckets
from .live import Live
from .registry import Gateways
from .settings import Settings
from .store import MongoGateways
from .usecases import Ingest
from .webhooks import (
    Dispatcher,
    HttpPoster,
    MongoDeliveries,
    MongoWebhooks,
    Outbound,
    Webhooks,
    on_message_delta,
    on_message_sent,
    on_thread_assigned,
    refresh_webhook_metrics,
    start_webhook_metrics,
)
from .webhooks.metrics import REFRESH_INTERVAL_S

SERVICE = "baton-ingest"
WEBHOOKS_GROUP = f"{SERVICE}-webhooks"
PURGE_INTERVAL_S = 300.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_tracing(SERVICE)
    broker = build_broker(settings.kafka, client_id=SERVICE)
    mongo = connect_mongo(settings.mongo, app_name=SERVICE)
    db = database(mongo, settings.mongo)
    publisher = KafkaEventPublisher(broker, settings.kafka)
    conversations = Conversations(db, publisher)
    ingest = Ingest(
        conversations=conversations,
        max_text_length=settings.max_text_length,
        rating_text_window=timedelta(seconds=settings.rating_text_window_s),
    )
    gateway_store = MongoGateways(db)
    gateways = Gateways(gateway_store)
    front = Front(ingest=ingest, conversations=conversations, limits=rate_limits(settings))

    # Webhooks: the consumers only store deliveries; the dispatcher posts them, so no
    # gateway's endpoint ever holds up a partition.
    hooks = settings.webhooks
    webhook_store = MongoWebhooks(db)
    deliveries = MongoDeliveries(db)
    poster = HttpPoster(timeout_s=hooks.timeout_s, max_connections=hooks.max_concurrency)
    dispatcher = Dispatcher(
        deliveries=deliveries,
        webhooks=webhook_store,
        gateways=gateways,
        poster=poster,
        settings=hooks,
    )
    outbound = Outbound(
        threads=conversations,
        webhooks=webhook_store,
        deliveries=deliveries,
        on_due=dispatcher.wake,
    )
    webhooks = Webhooks(
        gateways=gateways,
        webhooks=webhook_store,
        deliveries=deliveries,
        allow_http=hooks.allow_http,
        on_due=dispatcher.wake,
    )
    start_webhook_metrics()

    runner = event_runner(broker, publisher, service=SERVICE)
    consumers = [
        subscribe(
            settings.kafka,
            runner,
            topic=topics.MESSAGE_SUBMITTED,
            group=SERVICE,
            event_type=MessageSubmitted,
            handler=functools.partial(on_message_submitted, ingest=ingest),
        ),
        subscribe(
            settings.kafka,
            runner,
            topic=topics.MESSAGE_SENT,
            group=WEBHOOKS_GROUP,
            event_type=MessageSent,
            handler=functools.partial(on_message_sent, outbound=outbound),
        ),
        subscribe(
            settings.kafka,
            runner,
            topic=topics.THREAD_ASSIGNED,
            group=WEBHOOKS_GROUP,
            event_type=ThreadAssigned,
            handler=functools.partial(on_thread_assigned, outbound=outbound),
        ),
        subscribe(
            settings.kafka,
            runner,
            topic=topics.MESSAGE_DELTA,
            group=WEBHOOKS_GROUP,
            event_type=MessageDelta,
            handler=functools.partial(on_message_delta, outbound=outbound),
        ),
    ]
    # Thread streams: every instance reads the replies for the streams open on it, apart
    # from the groups above (which share the records out between instances).
    live = Live.build(settings.live, settings.kafka, client_id=SERVICE)

    # Ingest, the conversations' front door, is the one service that sweeps their outboxes:
    # what a crash left unannounced (a message, an ownership change) goes out after the grace.
    async def sweep() -> None:
        await conversations.sweep(older_than=timedelta(seconds=settings.recovery_grace_s))

    # Delivered deliveries are remembered for a while, so a redelivered event stores nothing.
    async def purge() -> None:
        await deliveries.purge_delivered(utc_now() - timedelta(seconds=hooks.keep_delivered_s))

    app = service_app(
        title="Baton ingest",
        service=SERVICE,
        summary="Gateways submit user messages; threads and their history.",
        broker=broker,
        mongo=mongo,
        db=db,
        kafka=settings.kafka,
        http=settings.http,
        topics=topics.ALL,
        consumers=consumers,
        on_start=[
            conversations.ensure_indexes,
            gateway_store.ensure_indexes,
            deliveries.ensure_indexes,
        ],
        background=[
            every(settings.recovery_interval_s, sweep, what="recovery sweep"),
            dispatcher.run,
            every(
                REFRESH_INTERVAL_S,
                functools.partial(refresh_webhook_metrics, webhook_store, deliveries),
                what="webhook gauge refresh",
                at_start=True,
            ),
            every(PURGE_INTERVAL_S, purge, what="purge of delivered webhook deliveries"),
            live.feed.run,
        ],
        on_stop=[poster.close],
    )
    app.add_exception_handler(RateLimitedError, rate_limited)
    # Thread streams end as soon as the server begins to stop: their clients reconnect to
    # another instance rather than hold up the shutdown.
    app.state.on_drain = (live.hub.end_all,)
    app.include_router(
        api_router(
            front=front,
            gateways=gateways,
            webhooks=webhooks,
            live=live,
            admin_token=settings.admin_token,
        )
    )
    app.include_router(chat_router())
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
