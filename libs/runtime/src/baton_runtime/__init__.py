"""Baton's runtime: the infrastructure every service shares.

Kafka and MongoDB wiring, the key-ordered at-least-once consumer, the outbox and the
handled-events log, dead letters, metrics, and the service app: its lifecycle and its HTTP
side (size limit, error shape, response headers, OpenAPI, docs UI, metrics exposure), and
traces across every hop when an OTLP endpoint is configured. Domain concepts
live in the services and in the conversation core, never here.
"""

from ._consumer import GRACE_SECONDS, REBALANCE_TIMEOUT_MS, KeyedConsumer
from ._dead_letters import DeadLetters, KafkaDeadLetters
from ._errors import RefusedError
from ._exposure import metrics_listener, metrics_router, served_app
from ._grouped import Grouped, GroupedWrites
from ._handled import Handled, HandledEvents, HandledLog
from ._http_errors import ApiError, CodedHTTPException, error_response, install_error_handlers
from ._kafka import (
    PRODUCER_SETTINGS,
    EventPublisher,
    KafkaEventPublisher,
    build_broker,
    client_security_options,
    ensure_topics,
)
from ._logging import JsonFormatter, configure_logging, context_filter, log_context
from ._metrics import (
    ESCALATIONS,
    ESCALATIONS_REFUSED,
    LLM_CALLS,
    LLM_IN_FLIGHT,
    LLM_LATENCY_SECONDS,
    LLM_OUTCOMES,
    LLM_WAITING,
    LlmPricing,
    llm_outcome,
    record_llm_usage,
    record_message_sent,
    start_escalation_metrics,
    start_llm_metrics,
    start_reply_metrics,
)
from ._mongo import (
    Document,
    Unreadable,
    connect_mongo,
    database,
    find_by_ids,
    insert_each,
    insert_once,
)
from ._openapi import declare_errors
from ._outbox import Apply, Entry, Outbox, merge, publishing
from ._pages import SHARED_PAGES, PackagedPages
from ._records import Record
from ._runner import TRANSIENT_ERRORS, EventRunner, Rejected, RetryPolicy, Subscription
from ._service import (
    every,
    health_router,
    serve,
    service_app,
)
from ._settings import HttpSettings, KafkaSettings, MongoSettings, TracingSettings
from ._slots import ModelSlots
from ._subscribe import event_runner, subscribe
from ._tracing import (
    ModelCall,
    configure_tracing,
    current_carrier,
    link_to,
    model_call,
    tracing_on,
)

__all__ = [
    "ESCALATIONS",
    "ESCALATIONS_REFUSED",
    "GRACE_SECONDS",
    "LLM_CALLS",
    "LLM_IN_FLIGHT",
    "LLM_LATENCY_SECONDS",
    "LLM_OUTCOMES",
    "LLM_WAITING",
    "PRODUCER_SETTINGS",
    "REBALANCE_TIMEOUT_MS",
    "SHARED_PAGES",
    "TRANSIENT_ERRORS",
    "ApiError",
    "Apply",
    "CodedHTTPException",
    "DeadLetters",
    "Document",
    "Entry",
    "EventPublisher",
    "EventRunner",
    "Grouped",
    "GroupedWrites",
    "Handled",
    "HandledEvents",
    "HandledLog",
    "HttpSettings",
    "JsonFormatter",
    "KafkaDeadLetters",
    "KafkaEventPublisher",
    "KafkaSettings",
    "KeyedConsumer",
    "LlmPricing",
    "ModelCall",
    "ModelSlots",
    "MongoSettings",
    "Outbox",
    "PackagedPages",
    "Record",
    "RefusedError",
    "Rejected",
    "RetryPolicy",
    "Subscription",
    "TracingSettings",
    "Unreadable",
    "build_broker",
    "client_security_options",
    "configure_logging",
    "configure_tracing",
    "connect_mongo",
    "context_filter",
    "current_carrier",
    "database",
    "declare_errors",
    "ensure_topics",
    "error_response",
    "event_runner",
    "every",
    "find_by_ids",
    "health_router",
    "insert_each",
    "insert_once",
    "install_error_handlers",
    "link_to",
    "llm_outcome",
    "log_context",
    "merge",
    "metrics_listener",
    "metrics_router",
    "model_call",
    "publishing",
    "record_llm_usage",
    "record_message_sent",
    "serve",
    "served_app",
    "service_app",
    "start_escalation_metrics",
    "start_llm_metrics",
    "start_reply_metrics",
    "subscribe",
    "tracing_on",
]
