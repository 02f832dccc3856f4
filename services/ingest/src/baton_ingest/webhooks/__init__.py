"""Webhooks: events posted to the gateways that do not speak Kafka, signed, at least once.

:mod:`.setup` is what an admin does (a webhook per gateway, its secret, its dead letters);
:mod:`.outbound` stores a delivery per event a webhook wants; :mod:`.dispatch` posts them.
"""

from .dispatch import Dispatcher, HttpPoster, Poster, PostFailedError
from .domain import (
    WEBHOOK_EVENTS,
    Delivery,
    InvalidWebhookError,
    NoWebhookError,
    Webhook,
    backoff,
    check_events,
    check_url,
    sign,
    signed_headers,
    take_turns,
)
from .handlers import on_message_delta, on_message_sent, on_thread_assigned
from .metrics import refresh_webhook_metrics, start_webhook_metrics
from .outbound import Outbound
from .settings import WebhookSettings
from .setup import Webhooks, WebhookSet
from .store import MongoDeliveries, MongoWebhooks

__all__ = [
    "WEBHOOK_EVENTS",
    "Delivery",
    "Dispatcher",
    "HttpPoster",
    "InvalidWebhookError",
    "MongoDeliveries",
    "MongoWebhooks",
    "NoWebhookError",
    "Outbound",
    "PostFailedError",
    "Poster",
    "Webhook",
    "WebhookSet",
    "WebhookSettings",
    "Webhooks",
    "backoff",
    "check_events",
    "check_url",
    "on_message_delta",
    "on_message_sent",
    "on_thread_assigned",
    "refresh_webhook_metrics",
    "sign",
    "signed_headers",
    "start_webhook_metrics",
    "take_turns",
]
