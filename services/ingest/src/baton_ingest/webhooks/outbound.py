"""Events for the gateways' webhooks: each one a gateway's webhook asks for is stored as a
delivery, and the consumer moves on; posting is the dispatcher's work."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from baton_contracts import utc_now
from baton_conversations import Thread

from .domain import WebhookEvent, new_delivery
from .ports import DeliveryStore, WebhookStore

REMEMBERED_THREADS = 10_000
"""Threads whose gateway is remembered (a thread's gateway never changes), the least
recently used forgotten first."""


class ThreadLookup(Protocol):
    async def get_thread(self, thread_id: str) -> Thread | None: ...


class Outbound:
    def __init__(
        self,
        *,
        threads: ThreadLookup,
        webhooks: WebhookStore,
        deliveries: DeliveryStore,
        on_due: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._threads = threads
        self._webhooks = webhooks
        self._deliveries = deliveries
        self._on_due = on_due
        self._clock = clock
        self._gateway_of: OrderedDict[str, str | None] = OrderedDict()

    async def take(self, event: WebhookEvent) -> bool:
        """Store ``event``'s delivery if its thread's gateway has a webhook that wants it.
        Idempotent: the delivery's id is the gateway's and the event's, so a redelivered
        event stores nothing new. Returns whether a delivery was stored."""
        gateway_id = await self._gateway(event.thread_id)
        if gateway_id is None:
            return False  # a thread no gateway opened (or none at all): nobody to tell
        webhook = await self._webhooks.get(gateway_id)
        if webhook is None or not webhook.wants(event.type):
            return False
        stored = await self._deliveries.add(new_delivery(gateway_id, event, now=self._clock()))
        if stored:
            self._on_due()
        return stored

    async def _gateway(self, thread_id: str) -> str | None:
        if thread_id in self._gateway_of:
            self._gateway_of.move_to_end(thread_id)
            return self._gateway_of[thread_id]
        thread = await self._threads.get_thread(thread_id)
        if thread is None:
            return None
        self._gateway_of[thread_id] = thread.gateway_id
        if len(self._gateway_of) > REMEMBERED_THREADS:
            self._gateway_of.popitem(last=False)
        return thread.gateway_id
