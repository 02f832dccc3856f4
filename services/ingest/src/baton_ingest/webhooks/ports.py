"""What the webhook use cases need of storage: small interfaces, with MongoDB behind them
(:mod:`.store`) and in-memory fakes in the unit tests."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol

from .domain import Delivery, Status, Webhook


class WebhookStore(Protocol):
    """One webhook per gateway, keyed by the gateway's id."""

    async def put(
        self, gateway_id: str, *, url: str, events: Sequence[str], secret: str, now: datetime
    ) -> tuple[Webhook, bool]:
        """Set the gateway's webhook; ``secret`` is kept only when there was none. Returns
        the webhook and whether it was created."""
        ...

    async def get(self, gateway_id: str) -> Webhook | None: ...

    async def get_many(self, gateway_ids: Collection[str]) -> dict[str, Webhook]: ...

    async def all(self) -> list[Webhook]:
        """Every webhook, oldest first."""
        ...

    async def set_secret(self, gateway_id: str, secret: str, *, now: datetime) -> Webhook | None:
        """Replace the secret; None when the gateway has no webhook."""
        ...

    async def remove(self, gateway_id: str) -> bool: ...


class DeliveryStore(Protocol):
    """Deliveries, one per (gateway, event)."""

    async def add(self, delivery: Delivery) -> bool:
        """Store a new delivery; False (and nothing changes) when it exists already."""
        ...

    async def due_gateways(self, now: datetime) -> list[str]:
        """The gateways with a pending delivery due by ``now``."""
        ...

    async def due(self, gateway_id: str, now: datetime, *, limit: int) -> list[Delivery]:
        """The gateway's pending deliveries due by ``now``, the longest due first."""
        ...

    async def lease(
        self, delivery: Delivery, *, now: datetime, until: datetime, token: str
    ) -> Delivery | None:
        """Take a due delivery for one try: only if it is still pending and due (no other
        instance took it), it gets ``token``, ``due_at = until`` (the try's lease) and one
        more attempt. None when someone else was first."""
        ...

    async def delivered(self, delivery_id: str, *, token: str, now: datetime) -> bool:
        """The try under ``token`` succeeded: the body is dropped, the rest kept until
        :meth:`purge_delivered`. False if the lease was lost meanwhile."""
        ...

    async def failed(
        self, delivery_id: str, *, token: str, error: str, retry_at: datetime | None
    ) -> bool:
        """The try under ``token`` failed: due again at ``retry_at``, or dead without it."""
        ...

    async def discard(self, delivery_id: str) -> bool:
        """Forget a pending delivery whose webhook or gateway is gone."""
        ...

    async def find(self, gateway_id: str, *, status: Status | None, limit: int) -> list[Delivery]:
        """The gateway's deliveries (of one status), the oldest first."""
        ...

    async def redeliver(
        self, gateway_id: str, *, event_ids: Collection[uuid.UUID] | None, now: datetime
    ) -> int:
        """Put the gateway's dead deliveries (only those of ``event_ids``, if given) back:
        pending, due now, with all their tries again. Returns how many."""
        ...

    async def remove_gateway(self, gateway_id: str) -> int:
        """Forget every delivery of a gateway whose webhook is removed."""
        ...

    async def purge_delivered(self, before: datetime) -> int:
        """Forget the deliveries delivered before ``before``."""
        ...

    async def counts(self) -> dict[tuple[str, Status], int]:
        """Pending and dead deliveries, by gateway and status."""
        ...
