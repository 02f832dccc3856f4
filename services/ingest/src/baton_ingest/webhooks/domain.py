"""Webhooks: what a gateway's webhook is, how a delivery is signed, and when it is tried
again. Free of I/O.

A delivery's body is the event exactly as it is published to Kafka. Its signature is the
HMAC-SHA256, in hex, of ``"<timestamp>.<body>"`` with the webhook's secret, the timestamp
being the Unix time of the attempt (``Baton-Timestamp``): the receiver checks both, so a
captured request cannot be replayed later. The secret is made by Baton and stored as it
is (signing needs it); the admin sees it only when it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from baton_contracts import MessageDelta, MessageSent, ThreadAssigned, encode

from ..domain import IngestError

WEBHOOK_EVENTS = ("message.sent", "thread.assigned", "message.delta")
"""The event types a webhook may ask for."""
SECRET_PREFIX = "whsec_"  # noqa: S105 - marks Baton webhook secrets, not a secret
MAX_URL_LENGTH = 2000
MAX_ERROR_LENGTH = 500
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})

Status = Literal["pending", "delivered", "dead"]
WebhookEvent = MessageSent | ThreadAssigned | MessageDelta
T = TypeVar("T")


class InvalidWebhookError(IngestError):
    code = "invalid_webhook"


class NoWebhookError(IngestError):
    status = 404
    code = "no_webhook"


@dataclass(frozen=True)
class Webhook:
    """Where a gateway receives the events it asked for, and the secret that signs them."""

    gateway_id: str
    url: str
    events: tuple[str, ...]
    secret: str = field(repr=False)
    created_at: datetime
    updated_at: datetime

    def wants(self, event_type: str) -> bool:
        return event_type in self.events


@dataclass(frozen=True)
class Delivery:
    """One event for one gateway's webhook, until a 2xx answers it or it is given up."""

    gateway_id: str
    event_id: uuid.UUID
    event_type: str
    thread_id: str
    body: bytes = field(repr=False)
    occurred_at: datetime
    created_at: datetime
    status: Status = "pending"
    attempts: int = 0
    """Tries so far, the one in progress included."""
    due_at: datetime | None = None
    """When it is tried next; while a try is in progress, when that try's lease ends."""
    last_error: str | None = None
    delivered_at: datetime | None = None

    @property
    def delivery_id(self) -> str:
        return delivery_id(self.gateway_id, self.event_id)


def delivery_id(gateway_id: str, event_id: uuid.UUID) -> str:
    """One delivery per gateway and event: the id a redelivered event finds again."""
    return f"{gateway_id}:{event_id}"


def new_delivery(gateway_id: str, event: WebhookEvent, *, now: datetime) -> Delivery:
    return Delivery(
        gateway_id=gateway_id,
        event_id=event.event_id,
        event_type=event.type,
        thread_id=event.thread_id,
        body=encode(event),
        occurred_at=event.occurred_at,
        created_at=now,
        due_at=now,
    )


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_hex(32)


def check_url(url: str, *, allow_http: bool) -> str:
    """The URL deliveries go to: ``https://``, or ``http://`` to a loopback address (any
    host with ``allow_http``); no credentials, no fragment. Else InvalidWebhookError."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH or not url.isascii() or not url.isprintable():
        raise InvalidWebhookError(
            f"url must be 1 to {MAX_URL_LENGTH} printable ASCII characters (IDNA and "
            "percent-encode the rest)"
        )
    if " " in url:
        raise InvalidWebhookError("url must not contain spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise InvalidWebhookError(f"url is not a valid URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidWebhookError("url must be an absolute https:// URL")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookError(
            "url must not carry credentials: the signature authenticates Baton to you"
        )
    if parts.fragment:
        raise InvalidWebhookError("url must not have a fragment")
    if parts.scheme == "http" and not (allow_http or is_loopback(parts.hostname)):
        raise InvalidWebhookError(
            "url must be https:// (http:// is accepted only to a loopback address)"
        )
    return url


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine by itself: ``localhost`` or a loopback address.
    Names are not resolved: what a name resolves to may change after the check."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_events(events: Sequence[str]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(e.strip() for e in events))
    if not cleaned:
        raise InvalidWebhookError(f"name at least one event type: {', '.join(WEBHOOK_EVENTS)}")
    unknown = [e for e in cleaned if e not in WEBHOOK_EVENTS]
    if unknown:
        raise InvalidWebhookError(
            f"unknown event type {unknown[0]!r}; webhooks carry {', '.join(WEBHOOK_EVENTS)}"
        )
    return tuple(e for e in WEBHOOK_EVENTS if e in cleaned)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``Baton-Signature``: HMAC-SHA256 of ``"<timestamp>.<body>"`` with the secret, hex."""
    return hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def signed_headers(delivery: Delivery, *, secret: str, timestamp: int) -> dict[str, str]:
    """The headers of one try of ``delivery``, made at Unix time ``timestamp``."""
    return {
        "Content-Type": "application/json",
        "User-Agent": "Baton-Webhooks/1",
        "Baton-Event-Id": str(delivery.event_id),
        "Baton-Event-Type": delivery.event_type,
        "Baton-Timestamp": str(timestamp),
        "Baton-Signature": sign(secret, timestamp, delivery.body),
    }


def backoff(
    attempt: int,
    *,
    initial_s: float,
    max_s: float,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait after try number ``attempt`` failed: doubling from ``initial_s`` up
    to ``max_s``, then jittered down by up to half (``rand`` in [0, 1)), so deliveries
    that failed together do not all come back together."""
    ceiling = min(max_s, initial_s * 2.0 ** min(attempt - 1, 60))
    return ceiling / 2 + ceiling / 2 * rand()


def next_try(
    attempts: int,
    *,
    max_attempts: int,
    now: datetime,
    initial_s: float,
    max_s: float,
    rand: Callable[[], float] = random.random,
) -> datetime | None:
    """When a delivery whose try number ``attempts`` failed is tried again; None when that
    was its last try (it becomes a dead letter)."""
    if attempts >= max_attempts:
        return None
    wait = backoff(attempts, initial_s=initial_s, max_s=max_s, rand=rand)
    return now + timedelta(seconds=wait)


def succeeded(status: int) -> bool:
    """A 2xx finishes a delivery; anything else (3xx included: redirects are not
    followed) is tried again."""
    return 200 <= status < 300


def short_error(text: str) -> str:
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def take_turns(
    due: Mapping[str, Sequence[T]],
    *,
    free: Mapping[str, int],
    total: int,
    start: int = 0,
) -> list[T]:
    """Which due deliveries to try now, in order: one of each gateway in turn (from the
    ``start``-th gateway by id, so no gateway is always first), each gateway at most
    ``free[gateway]`` (its slots not taken by tries in flight), ``total`` at most. A
    gateway's backlog thus takes its turn with everyone else's, never before them."""
    gateways = sorted(g for g, items in due.items() if items and free.get(g, 0) > 0)
    if not gateways or total <= 0:
        return []
    first = start % len(gateways)
    order = gateways[first:] + gateways[:first]
    queues = {g: list(due[g][: free[g]]) for g in order}
    picked: list[T] = []
    while len(picked) < total and any(queues.values()):
        for gateway in order:
            if queues[gateway] and len(picked) < total:
                picked.append(queues[gateway].pop(0))
    return picked
