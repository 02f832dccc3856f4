"""The webhooks' stores in memory, for unit tests of their use cases and of the
dispatcher. They keep the MongoDB adapters' rules: one delivery per id, leases taken only
while a delivery is pending and due, verdicts recorded only under the lease's token."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from baton_ingest.webhooks import Delivery, Webhook
from baton_ingest.webhooks.domain import Status, delivery_id


class MemoryWebhooks:
    def __init__(self) -> None:
        self.webhooks: dict[str, Webhook] = {}

    async def put(
        self, gateway_id: str, *, url: str, events: Sequence[str], secret: str, now: datetime
    ) -> tuple[Webhook, bool]:
        before = self.webhooks.get(gateway_id)
        webhook = Webhook(
            gateway_id=gateway_id,
            url=url,
            events=tuple(events),
            secret=before.secret if before else secret,
            created_at=before.created_at if before else now,
            updated_at=now,
        )
        self.webhooks[gateway_id] = webhook
        return webhook, before is None

    async def get(self, gateway_id: str) -> Webhook | None:
        return self.webhooks.get(gateway_id)

    async def get_many(self, gateway_ids: Collection[str]) -> dict[str, Webhook]:
        return {g: w for g, w in self.webhooks.items() if g in gateway_ids}

    async def all(self) -> list[Webhook]:
        return sorted(self.webhooks.values(), key=lambda w: (w.created_at, w.gateway_id))

    async def set_secret(self, gateway_id: str, secret: str, *, now: datetime) -> Webhook | None:
        webhook = self.webhooks.get(gateway_id)
        if webhook is None:
            return None
        self.webhooks[gateway_id] = dataclasses.replace(webhook, secret=secret, updated_at=now)
        return self.webhooks[gateway_id]

    async def remove(self, gateway_id: str) -> bool:
        return self.webhooks.pop(gateway_id, None) is not None


class MemoryDeliveries:
    def __init__(self) -> None:
        self.deliveries: dict[str, Delivery] = {}
        self.leases: dict[str, str] = {}

    async def add(self, delivery: Delivery) -> bool:
        if delivery.delivery_id in self.deliveries:
            return False
        self.deliveries[delivery.delivery_id] = delivery
        return True

    def _due(self, now: datetime) -> list[Delivery]:
        due = [
            d
            for d in self.deliveries.values()
            if d.status == "pending" and d.due_at is not None and d.due_at <= now
        ]
        return sorted(due, key=lambda d: (d.due_at or now, d.delivery_id))

    async def due_gateways(self, now: datetime) -> list[str]:
        return sorted({d.gateway_id for d in self._due(now)})

    async def due(self, gateway_id: str, now: datetime, *, limit: int) -> list[Delivery]:
        return [d for d in self._due(now) if d.gateway_id == gateway_id][:limit]

    async def lease(
        self, delivery: Delivery, *, now: datetime, until: datetime, token: str
    ) -> Delivery | None:
        current = self.deliveries.get(delivery.delivery_id)
        if current is None or current not in self._due(now):
            return None
        leased = dataclasses.replace(current, due_at=until, attempts=current.attempts + 1)
        self.deliveries[delivery.delivery_id] = leased
        self.leases[delivery.delivery_id] = token
        return leased

    def _holds(self, delivery_id: str, token: str) -> Delivery | None:
        current = self.deliveries.get(delivery_id)
        if current is None or current.status != "pending":
            return None
        return current if self.leases.get(delivery_id) == token else None

    async def delivered(self, delivery_id: str, *, token: str, now: datetime) -> bool:
        current = self._holds(delivery_id, token)
        if current is None:
            return False
        del self.leases[delivery_id]
        self.deliveries[delivery_id] = dataclasses.replace(
            current, status="delivered", delivered_at=now, due_at=None, body=b"", last_error=None
        )
        return True

    async def failed(
        self, delivery_id: str, *, token: str, error: str, retry_at: datetime | None
    ) -> bool:
        current = self._holds(delivery_id, token)
        if current is None:
            return False
        del self.leases[delivery_id]
        if retry_at is None:
            changed = dataclasses.replace(current, status="dead", last_error=error)
        else:
            changed = dataclasses.replace(current, due_at=retry_at, last_error=error)
        self.deliveries[delivery_id] = changed
        return True

    async def discard(self, delivery_id: str) -> bool:
        current = self.deliveries.get(delivery_id)
        if current is None or current.status != "pending":
            return False
        del self.deliveries[delivery_id]
        return True

    async def find(self, gateway_id: str, *, status: Status | None, limit: int) -> list[Delivery]:
        found = [
            d
            for d in self.deliveries.values()
            if d.gateway_id == gateway_id and status in (None, d.status)
        ]
        return sorted(found, key=lambda d: (d.created_at, d.delivery_id))[:limit]

    async def redeliver(
        self, gateway_id: str, *, event_ids: Collection[uuid.UUID] | None, now: datetime
    ) -> int:
        wanted = None if event_ids is None else {delivery_id(gateway_id, e) for e in event_ids}
        count = 0
        for key, d in list(self.deliveries.items()):
            if d.gateway_id == gateway_id and d.status == "dead":
                if wanted is not None and key not in wanted:
                    continue
                self.deliveries[key] = dataclasses.replace(
                    d, status="pending", due_at=now, attempts=0
                )
                count += 1
        return count

    async def remove_gateway(self, gateway_id: str) -> int:
        gone = [k for k, d in self.deliveries.items() if d.gateway_id == gateway_id]
        for key in gone:
            del self.deliveries[key]
        return len(gone)

    async def purge_delivered(self, before: datetime) -> int:
        gone = [
            k
            for k, d in self.deliveries.items()
            if d.status == "delivered" and d.delivered_at is not None and d.delivered_at < before
        ]
        for key in gone:
            del self.deliveries[key]
        return len(gone)

    async def counts(self) -> dict[tuple[str, Status], int]:
        counted: dict[tuple[str, Status], int] = {}
        for d in self.deliveries.values():
            if d.status in ("pending", "dead"):
                counted[(d.gateway_id, d.status)] = counted.get((d.gateway_id, d.status), 0) + 1
        return counted
