"""Posting due deliveries to the gateways' webhook URLs: ingest's background loop.

Guarantees:

* **At least once.** A try is taken with a lease (a conditional update: still pending, still
  due), so two instances never post the same delivery at the same time; a try that ends
  without a verdict (a crash, a shutdown) is taken again once its lease runs out. Only a
  2xx finishes a delivery, so a receiver may see an event twice: it de-duplicates by
  ``Baton-Event-Id``.
* **No gateway waits for another.** Each gateway has its own slots
  (``per_gateway_concurrency``) and each try its timeout, so a hanging endpoint holds only
  its own slots; due deliveries are taken one gateway at a time in turn, so one gateway's
  backlog never goes before another's deliveries.
* **The pipeline never waits for a gateway.** The consumers only store deliveries
  (:mod:`.outbound`); this loop is the only code that talks to the gateways.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

import httpx

from baton_contracts import utc_now

from ..registry import UnknownGatewayError
from . import metrics
from .domain import Delivery, Webhook, next_try, short_error, signed_headers, succeeded, take_turns
from .ports import DeliveryStore, WebhookStore
from .settings import WebhookSettings
from .setup import GatewayLookup

log = logging.getLogger(__name__)

LEASE_MARGIN = timedelta(seconds=30)
"""A try's lease outlasts its timeout by this much: time to record the verdict."""
DISCARD_BATCH = 100


class PostFailedError(Exception):
    """A try that got no HTTP status: a timeout, a refused connection, a TLS error..."""


class Poster(Protocol):
    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        """POST ``body`` and return the answer's status; :class:`PostFailedError` without one."""
        ...


class HttpPoster:
    """Posts with httpx. Redirects are not followed (a 3xx is a failed try) and the answer's
    body is never read: only its status counts."""

    def __init__(self, *, timeout_s: float, max_connections: int) -> None:
        self._timeout_s = timeout_s
        self._client = httpx.AsyncClient(
            timeout=timeout_s,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max_connections),
        )

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        try:
            # httpx times each read and write; this bounds the whole try.
            async with asyncio.timeout(self._timeout_s):
                request = self._client.stream("POST", url, content=body, headers=headers)
                async with request as response:
                    return response.status_code
        except TimeoutError:
            raise PostFailedError(f"no answer within {self._timeout_s:g} s") from None
        except httpx.HTTPError as exc:
            raise PostFailedError(f"{type(exc).__name__}: {exc}") from None

    async def close(self) -> None:
        await self._client.aclose()


class Dispatcher:
    def __init__(
        self,
        *,
        deliveries: DeliveryStore,
        webhooks: WebhookStore,
        gateways: GatewayLookup,
        poster: Poster,
        settings: WebhookSettings,
        clock: Callable[[], datetime] = utc_now,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._deliveries = deliveries
        self._webhooks = webhooks
        self._gateways = gateways
        self._poster = poster
        self._settings = settings
        self._clock = clock
        self._rand = rand
        self._lease = timedelta(seconds=settings.timeout_s) + LEASE_MARGIN
        self._wake = asyncio.Event()
        self._in_flight: Counter[str] = Counter()
        self._tries: set[asyncio.Task[None]] = set()
        self._turn = 0

    def wake(self) -> None:
        """Look for due deliveries now (one was stored, or put back, in this process)."""
        self._wake.set()

    async def run(self) -> None:
        """The loop (``service_app(background=...)``): a round when woken, when a try ends,
        and every ``poll_interval_s``. Cancelled, it cancels its tries: their leases run
        out and any instance takes them again."""
        try:
            while True:
                self._wake.clear()
                try:
                    await self.round()
                except Exception:
                    log.exception("webhook round failed; trying again")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._settings.poll_interval_s)
        finally:
            await self.cancel()

    async def round(self) -> list[Delivery]:
        """Take and start the due deliveries that fit in the free slots; returns them."""
        total = self._settings.max_concurrency - len(self._tries)
        if total <= 0:
            return []
        now = self._clock()
        gateways = [g for g in await self._deliveries.due_gateways(now) if self._free(g) > 0]
        if not gateways:
            return []
        webhooks = await self._webhooks.get_many(gateways)
        due: dict[str, list[Delivery]] = {}
        for gateway_id in gateways:
            if gateway_id in webhooks and await self._active(gateway_id):
                due[gateway_id] = await self._deliveries.due(
                    gateway_id, now, limit=self._free(gateway_id)
                )
            else:
                await self._discard(gateway_id, now)
        free = {g: self._free(g) for g in due}
        picked = take_turns(due, free=free, total=total, start=self._turn)
        self._turn += 1
        started: list[Delivery] = []
        for delivery in picked:
            token = uuid.uuid4().hex
            now = self._clock()
            leased = await self._deliveries.lease(
                delivery, now=now, until=now + self._lease, token=token
            )
            if leased is not None:  # else another instance was first
                self._start(leased, webhooks[leased.gateway_id], token)
                started.append(leased)
        return started

    async def cancel(self) -> None:
        """Stop every try in progress (their leases run out: they are tried again)."""
        tries = list(self._tries)
        for task in tries:
            task.cancel()
        await asyncio.gather(*tries, return_exceptions=True)

    async def settle(self) -> None:
        """Wait for the tries in progress (for tests and tools)."""
        while self._tries:
            await asyncio.gather(*self._tries, return_exceptions=True)

    def _free(self, gateway_id: str) -> int:
        return self._settings.per_gateway_concurrency - self._in_flight[gateway_id]

    async def _active(self, gateway_id: str) -> bool:
        try:
            return (await self._gateways.get(gateway_id)).active
        except UnknownGatewayError:
            return False

    async def _discard(self, gateway_id: str, now: datetime) -> None:
        """A gateway whose webhook was removed, or which was revoked, gets nothing more."""
        for delivery in await self._deliveries.due(gateway_id, now, limit=DISCARD_BATCH):
            if await self._deliveries.discard(delivery.delivery_id):
                metrics.discarded()
                log.info("discarded webhook delivery %s: no webhook or gateway", delivery)

    def _start(self, delivery: Delivery, webhook: Webhook, token: str) -> None:
        gateway_id = delivery.gateway_id
        self._in_flight[gateway_id] += 1
        task = asyncio.create_task(self._try(delivery, webhook, token))
        self._tries.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self._tries.discard(task)
            self._in_flight[gateway_id] -= 1
            if not self._in_flight[gateway_id]:
                del self._in_flight[gateway_id]
            self._wake.set()  # a slot is free

        task.add_done_callback(done)

    async def _try(self, delivery: Delivery, webhook: Webhook, token: str) -> None:
        timestamp = int(self._clock().timestamp())
        headers = signed_headers(delivery, secret=webhook.secret, timestamp=timestamp)
        started = time.perf_counter()
        try:
            status = await self._poster.post(webhook.url, delivery.body, headers)
            error = None if succeeded(status) else f"HTTP {status}"
        except PostFailedError as exc:
            error = str(exc)
        elapsed = time.perf_counter() - started
        metrics.attempted(elapsed)
        try:
            await self._record(delivery, token, error)
        except Exception:
            log.exception(
                "could not record the try of webhook delivery %s; it is tried again when "
                "its lease runs out",
                delivery.delivery_id,
            )

    async def _record(self, delivery: Delivery, token: str, error: str | None) -> None:
        now = self._clock()
        if error is None:
            if await self._deliveries.delivered(delivery.delivery_id, token=token, now=now):
                metrics.delivered(occurred_at=delivery.occurred_at, now=now)
            return
        settings = self._settings
        retry_at = next_try(
            delivery.attempts,
            max_attempts=settings.max_attempts,
            now=now,
            initial_s=settings.backoff_initial_s,
            max_s=settings.backoff_max_s,
            rand=self._rand,
        )
        error = short_error(error)
        recorded = await self._deliveries.failed(
            delivery.delivery_id, token=token, error=error, retry_at=retry_at
        )
        if not recorded:
            return  # the lease ran out meanwhile: whoever holds it now decides
        metrics.failed(dead=retry_at is None)
        if retry_at is None:
            log.warning(
                "webhook delivery %s is a dead letter after %d tries: %s",
                delivery.delivery_id,
                delivery.attempts,
                error,
            )
