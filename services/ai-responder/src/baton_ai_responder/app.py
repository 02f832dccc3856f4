"""The AI responder's composition root."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import openai
from fastapi import FastAPI

from baton_contracts import DraftApproved, DraftRejected, HumanResponded, RouteDecided, topics
from baton_conversations import Conversations, Escalations
from baton_runtime import (
    HandledEvents,
    KafkaEventPublisher,
    Outbox,
    build_broker,
    connect_mongo,
    database,
    event_runner,
    service_app,
    subscribe,
)

from .handlers import (
    on_draft_approved,
    on_draft_rejected,
    on_human_responded,
    on_route_decided,
    routed_to_ai,
)
from .llm import ChatModel, OpenAIChatModel
from .policy import ReplyPolicy
from .settings import Settings
from .store import MongoRequests
from .tools import ToolRegistry, default_registry
from .turn import AiDeps, TurnConfig
from .usecases import Responder

SERVICE = "baton-ai-responder"


def build_model(settings: Settings) -> OpenAIChatModel:
    client = openai.AsyncOpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unset",
        timeout=settings.llm_timeout_s,
        max_retries=0,
        # The SDK's aiohttp transport rather than its default, httpx: fewer layers for the
        # connection pool and HTTP parsing, partly in C (decision 7).
        http_client=openai.DefaultAioHttpClient(),
    )
    return OpenAIChatModel(
        client,
        model=settings.model,
        max_attempts=settings.llm_max_attempts,
        backoff_s=settings.llm_backoff_s,
        max_concurrent=settings.llm_max_concurrent,
    )


def create_app(
    settings: Settings | None = None,
    *,
    model: ChatModel | None = None,
    tools: ToolRegistry | None = None,
) -> FastAPI:
    settings = settings or Settings()
    broker = build_broker(settings.kafka, client_id=SERVICE)
    mongo = connect_mongo(settings.mongo, app_name=SERVICE)
    db = database(mongo, settings.mongo)
    on_stop: list[Callable[[], Awaitable[None]]] = []
    if model is None:
        built = build_model(settings)
        model = built
        on_stop.append(built.close)  # a model handed in is its owner's to close
    publisher = KafkaEventPublisher(broker, settings.kafka)
    outbox = Outbox(publisher)
    conversations = Conversations(db, publisher)
    requests = MongoRequests(db)
    escalations = Escalations(db, settings.escalation)
    deps = AiDeps(
        conversations=conversations,
        escalations=escalations,
        requests=requests,
        model=model,
        tools=tools or default_registry(),
        config=TurnConfig(
            agent_name=settings.agent_name,
            system_prompt=settings.system_prompt,
            history_window=settings.history_window,
            max_steps=settings.max_steps,
            reply_policy=ReplyPolicy(
                confidence_threshold=settings.confidence_threshold,
                approval_topics=tuple(settings.approval_topics),
                review_token_threshold=settings.review_token_threshold,
            ),
        ),
    )
    responder = Responder(deps, rejection_fallback=settings.rejection_fallback)
    runner = event_runner(
        broker,
        publisher,
        service=SERVICE,
        handled=HandledEvents(db, service=SERVICE, outbox=outbox),
    )

    on = functools.partial(subscribe, settings.kafka, runner, group=SERVICE)
    consumers = [
        on(
            topic=topics.ROUTE_DECIDED,
            event_type=RouteDecided,
            handler=functools.partial(on_route_decided, responder=responder),
            wants=routed_to_ai,
        ),
        on(
            topic=topics.HUMAN_RESPONDED,
            event_type=HumanResponded,
            handler=functools.partial(on_human_responded, responder=responder),
        ),
        on(
            topic=topics.DRAFT_APPROVED,
            event_type=DraftApproved,
            handler=functools.partial(on_draft_approved, responder=responder),
        ),
        on(
            topic=topics.DRAFT_REJECTED,
            event_type=DraftRejected,
            handler=functools.partial(on_draft_rejected, responder=responder),
        ),
    ]

    return service_app(
        title="Baton AI responder",
        service=SERVICE,
        broker=broker,
        mongo=mongo,
        db=db,
        kafka=settings.kafka,
        topics=topics.ALL,
        consumers=consumers,
        on_start=[
            conversations.ensure_indexes,
            requests.ensure_indexes,
            escalations.ensure_indexes,
        ],
        on_stop=on_stop,
    )
