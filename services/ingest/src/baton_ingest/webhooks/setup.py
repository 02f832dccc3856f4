"""The webhooks an admin sets up: one per gateway, its secret shown when it is made and
when it is rotated; its dead letters listed and redelivered."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from baton_contracts import utc_now

from ..gateways import Gateway
from ..registry import GatewayRevokedError
from .domain import (
    Delivery,
    InvalidWebhookError,
    NoWebhookError,
    Status,
    Webhook,
    check_events,
    check_url,
    new_secret,
)
from .ports import DeliveryStore, WebhookStore

MAX_LISTED = 500


class GatewayLookup(Protocol):
    async def get(self, gateway_id: str) -> Gateway:
        """The gateway; :class:`~baton_ingest.registry.UnknownGatewayError` if none."""
        ...


@dataclass(frozen=True)
class WebhookSet:
    webhook: Webhook
    created: bool
    secret: str | None = None
    """The signing secret when it was just made (creation, rotation): shown this once."""


class Webhooks:
    def __init__(
        self,
        *,
        gateways: GatewayLookup,
        webhooks: WebhookStore,
        deliveries: DeliveryStore,
        allow_http: bool,
        on_due: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._gateways = gateways
        self._webhooks = webhooks
        self._deliveries = deliveries
        self._allow_http = allow_http
        self._on_due = on_due
        self._clock = clock

    async def set(self, gateway_id: str, *, url: str, events: Sequence[str]) -> WebhookSet:
        """Create the gateway's webhook (its secret made now, and shown), or change its URL
        and events (the secret stays, unseen). Deliveries still pending go to the new URL."""
        url = check_url(url, allow_http=self._allow_http)
        cleaned = check_events(events)
        await self._active(gateway_id)
        webhook, created = await self._webhooks.put(
            gateway_id, url=url, events=cleaned, secret=new_secret(), now=self._clock()
        )
        return WebhookSet(webhook, created, secret=webhook.secret if created else None)

    async def get(self, gateway_id: str) -> Webhook:
        await self._gateways.get(gateway_id)
        webhook = await self._webhooks.get(gateway_id)
        if webhook is None:
            raise NoWebhookError("this gateway has no webhook")
        return webhook

    async def rotate_secret(self, gateway_id: str) -> WebhookSet:
        """A new signing secret, shown now; every try from now on is signed with it."""
        await self._active(gateway_id)
        webhook = await self._webhooks.set_secret(gateway_id, new_secret(), now=self._clock())
        if webhook is None:
            raise NoWebhookError("this gateway has no webhook")
        return WebhookSet(webhook, created=False, secret=webhook.secret)

    async def remove(self, gateway_id: str) -> None:
        """No more deliveries: the webhook goes, with its pending and dead deliveries."""
        await self._gateways.get(gateway_id)
        if not await self._webhooks.remove(gateway_id):
            raise NoWebhookError("this gateway has no webhook")
        await self._deliveries.remove_gateway(gateway_id)

    async def deliveries(
        self, gateway_id: str, *, status: Status | None, limit: int
    ) -> list[Delivery]:
        if not 1 <= limit <= MAX_LISTED:
            raise InvalidWebhookError(f"limit must be 1 to {MAX_LISTED}")
        await self.get(gateway_id)
        return await self._deliveries.find(gateway_id, status=status, limit=limit)

    async def redeliver(
        self, gateway_id: str, *, event_ids: Collection[uuid.UUID] | None = None
    ) -> int:
        """Put the gateway's dead letters (those of ``event_ids``, if given) back in line,
        with all their tries again. Returns how many."""
        await self._active(gateway_id)
        if await self._webhooks.get(gateway_id) is None:
            raise NoWebhookError("this gateway has no webhook")
        count = await self._deliveries.redeliver(gateway_id, event_ids=event_ids, now=self._clock())
        if count:
            self._on_due()
        return count

    async def _active(self, gateway_id: str) -> None:
        gateway = await self._gateways.get(gateway_id)
        if not gateway.active:
            raise GatewayRevokedError("this gateway is revoked; create a new one")
