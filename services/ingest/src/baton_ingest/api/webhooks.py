"""The admin routes of the gateways' webhooks (``/v1/admin/gateways/{id}/webhook``).

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ..webhooks import WEBHOOK_EVENTS, Delivery, Webhook, Webhooks, WebhookSet
from .auth import Auth

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid admin token"},
    404: {"description": "No such gateway (`unknown_gateway`), or no webhook (`no_webhook`)"},
    422: {"description": "Invalid request (`invalid_request`, `invalid_webhook`)"},
}
REVOKED: dict[int | str, dict[str, Any]] = {
    409: {"description": "The gateway is revoked (`gateway_revoked`)"}
}


class SetWebhook(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(
        examples=["https://gateway.example.com/baton/events"],
        description="Where events are posted: `https://` (`http://` only to a loopback "
        "address, or with `INGEST_WEBHOOK_ALLOW_HTTP`); no credentials, no fragment.",
    )
    events: list[str] = Field(
        default=["message.sent"],
        max_length=len(WEBHOOK_EVENTS),
        description=f"The event types to post: {', '.join(f'`{e}`' for e in WEBHOOK_EVENTS)}.",
    )


class WebhookView(BaseModel):
    gateway_id: str
    url: str
    events: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, webhook: Webhook) -> "WebhookView":
        return cls(
            gateway_id=webhook.gateway_id,
            url=webhook.url,
            events=list(webhook.events),
            created_at=webhook.created_at,
            updated_at=webhook.updated_at,
        )


class WebhookIssued(WebhookView):
    secret: str | None = Field(
        default=None,
        description="The signing secret (`Baton-Signature`), when it was just made: at "
        "creation and rotation. It is not shown again.",
    )

    @classmethod
    def issued(cls, result: WebhookSet) -> "WebhookIssued":
        return cls(**WebhookView.of(result.webhook).model_dump(), secret=result.secret)


class DeliveryView(BaseModel):
    event_id: uuid.UUID
    event_type: str
    thread_id: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int = Field(description="Tries so far.")
    occurred_at: datetime
    created_at: datetime
    due_at: datetime | None = Field(description="When it is tried next (pending).")
    delivered_at: datetime | None
    last_error: str | None = Field(description="Why the last try failed.")

    @classmethod
    def of(cls, delivery: Delivery) -> "DeliveryView":
        return cls(
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            thread_id=delivery.thread_id,
            status=delivery.status,
            attempts=delivery.attempts,
            occurred_at=delivery.occurred_at,
            created_at=delivery.created_at,
            due_at=delivery.due_at if delivery.status == "pending" else None,
            delivered_at=delivery.delivered_at,
            last_error=delivery.last_error,
        )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]


class Redeliver(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    event_ids: list[uuid.UUID] | None = Field(
        default=None, max_length=1000, description="Only these events' dead letters; all without."
    )


class Redelivered(BaseModel):
    redelivered: int = Field(description="Dead letters put back in line.")


def webhooks_router(auth: Auth, *, webhooks: Webhooks) -> APIRouter:
    router = APIRouter(
        prefix="/v1/admin/gateways/{gateway_id}/webhook",
        tags=["webhooks"],
        dependencies=[Depends(auth.admin)],
        responses=ERRORS,
    )

    @router.put(
        "",
        responses={
            201: {"model": WebhookIssued, "description": "Created; `secret` is shown this once"},
            **REVOKED,
        },
    )
    async def set_webhook(gateway_id: str, body: SetWebhook, response: Response) -> WebhookIssued:
        """Create the gateway's webhook (`201`, with its signing secret) or change its URL and
        events (`200`; the secret stays and is not shown)."""
        result = await webhooks.set(gateway_id, url=body.url, events=body.events)
        response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        return WebhookIssued.issued(result)

    @router.get("")
    async def get_webhook(gateway_id: str) -> WebhookView:
        """The gateway's webhook, without its secret."""
        return WebhookView.of(await webhooks.get(gateway_id))

    @router.delete("", status_code=status.HTTP_204_NO_CONTENT)
    async def remove_webhook(gateway_id: str) -> None:
        """No more deliveries: the webhook goes, with its pending and dead deliveries."""
        await webhooks.remove(gateway_id)

    @router.post("/secret", responses=REVOKED)
    async def rotate_webhook_secret(gateway_id: str) -> WebhookIssued:
        """A new signing secret, shown only now; every try from now on is signed with it."""
        return WebhookIssued.issued(await webhooks.rotate_secret(gateway_id))

    @router.get("/deliveries")
    async def list_webhook_deliveries(
        gateway_id: str,
        status: Literal["pending", "delivered", "dead"] | None = None,
        limit: int = Query(default=100, ge=1, le=500),
    ) -> DeliveryList:
        """The gateway's deliveries, oldest first: pending, dead letters (with the last
        error), and delivered ones while they are remembered."""
        found = await webhooks.deliveries(gateway_id, status=status, limit=limit)
        return DeliveryList(deliveries=[DeliveryView.of(d) for d in found])

    @router.post("/redeliver", responses=REVOKED)
    async def redeliver_webhook_deliveries(
        gateway_id: str, body: Redeliver | None = None
    ) -> Redelivered:
        """Put the gateway's dead letters (or only those of `event_ids`) back in line, with
        all their tries again."""
        event_ids = body.event_ids if body is not None else None
        return Redelivered(redelivered=await webhooks.redeliver(gateway_id, event_ids=event_ids))

    return router
