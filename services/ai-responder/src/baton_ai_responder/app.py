"""The AI responder's composition root."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import openai
from fastapi import FastAPI

from baton_contracts import (
    ActionDecided,
    DraftApproved,
    DraftRejected,
    HumanResponded,
    RouteDecided,
    TicketExpired,
    TicketOpened,
    topics,
)
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
    service_app,
    subscribe,
)

from .handlers import (
    on_action_decided,
    on_draft_approved,
    on_draft_rejected,
    on_human_responded,
    on_route_decided,
    on_ticket_expired,
    on_ticket_opened,
    routed_to_ai,
)
from .llm import ChatModel, OpenAIChatModel
from .metrics import start_tool_metrics
from .policy import ReplyPolicy
from .settings import Settings
from .store import MongoExecutions, MongoRequests
from .streaming import StreamSettings
from .summary import OpenAISummarizer, Summarizer
from .toolbox import load_toolbox
from .tools import Toolbox
from .turn import AiDeps, TurnConfig
from .usecases import Responder, Summaries

SERVICE = "baton-ai-responder"


def build_client(settings: Settings) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=settings.openai_base_url,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "unset",
        timeout=settings.llm_timeout_s,
        max_retries=0,
        # The SDK's aiohttp transport rather than its default, httpx: fewer layers for the
        # connection pool and HTTP parsing, partly in C (decision 7).
        http_client=openai.DefaultAioHttpClient(),
    )


def model_limits(settings: Settings) -> dict[str, Any]:
    """The model and limits every kind of call shares (replies, summaries)."""
    return {
        "model": settings.model,
        "max_attempts": settings.llm_max_attempts,
        "backoff_s": settings.llm_backoff_s,
        "max_concurrent": settings.llm_max_concurrent,
    }


def build_summarizer(settings: Settings, client: openai.AsyncOpenAI) -> OpenAISummarizer:
    """Summaries through the responder's client, with its model and limits."""
    return OpenAISummarizer(client, **model_limits(settings))


def build_model(settings: Settings, client: openai.AsyncOpenAI | None = None) -> OpenAIChatModel:
    return OpenAIChatModel(client or build_client(settings), **model_limits(settings))


def stream_settings(settings: Settings) -> StreamSettings | None:
    """How replies stream as they are written; None when they do not (decision 19)."""
    if not settings.stream:
        return None
    return StreamSettings(
        interval_s=settings.stream_interval_ms / 1000, max_chars=settings.stream_max_chars
    )


async def _tool_metrics_at_zero(toolbox: Toolbox) -> None:
    start_tool_metrics(toolbox.action_names())


def create_app(
    settings: Settings | None = None,
    *,
    model: ChatModel | None = None,
    tools: Toolbox | None = None,
    summarizer: Summarizer | None = None,
) -> FastAPI:
    settings = settings or Settings()
    configure_tracing(SERVICE)
    broker = build_broker(settings.kafka, client_id=SERVICE)
    mongo = connect_mongo(settings.mongo, app_name=SERVICE)
    db = database(mongo, settings.mongo)
    on_stop: list[Callable[[], Awaitable[None]]] = []
    if model is None or summarizer is None:
        # One client for the replies and the summaries; what is handed in is its owner's
        # to close.
        client = build_client(settings)
        on_stop.append(client.close)
        model = model or build_model(settings, client)
        summarizer = summarizer or build_summarizer(settings, client)
    publisher = KafkaEventPublisher(broker, settings.kafka)
    outbox = Outbox(publisher)
    conversations = Conversations(db, publisher)
    requests = MongoRequests(db)
    executions = MongoExecutions(db)
    # A bad tools file stops the start here, with the reason, before anything connects.
    toolbox = tools or load_toolbox(settings.tools_file)
    escalations = Escalations(db, settings.escalation)
    deps = AiDeps(
        conversations=conversations,
        escalations=escalations,
        requests=requests,
        executions=executions,
        model=model,
        tools=toolbox,
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
            streaming=stream_settings(settings),
        ),
        deltas=publisher,
    )
    responder = Responder(deps, rejection_fallback=settings.rejection_fallback)
    summaries = Summaries(
        conversations=conversations,
        summarizer=summarizer,
        history_window=settings.history_window,
        enabled=settings.summaries,
    )
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
        on(
            topic=topics.ACTION_DECIDED,
            event_type=ActionDecided,
            handler=functools.partial(on_action_decided, responder=responder),
        ),
        on(
            topic=topics.TICKET_EXPIRED,
            event_type=TicketExpired,
            handler=functools.partial(on_ticket_expired, responder=responder),
        ),
        # Summaries have a consumer of their own: a slow or failing summary holds up no
        # reply, and the handled-events log makes a replay publish the first one.
        on(
            topic=topics.TICKET_OPENED,
            event_type=TicketOpened,
            handler=functools.partial(on_ticket_opened, summaries=summaries),
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
            toolbox.start,
            functools.partial(_tool_metrics_at_zero, toolbox),
        ],
        on_stop=[*on_stop, toolbox.close],
    )
