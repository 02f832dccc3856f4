"""The admin routes: gateways and their keys.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel, ConfigDict, Field

from ..gateways import Gateway
from ..registry import Gateways, Issued
from .auth import Auth

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid admin token"},
    422: {"description": "Invalid body (`invalid_request`, `invalid_gateway`)"},
}
ONE: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such gateway (`unknown_gateway`)"},
    409: {"description": "The gateway is revoked (`gateway_revoked`)"},
}


class CreateGateway(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(examples=["web widget"], description="1 to 100 printable characters.")
    channels: list[str] = Field(
        examples=[["web"]], description='The channels its threads may have; `["*"]`: any.'
    )
    may_set_routing: bool = Field(
        default=False, description="Whether it may set routing attributes (`metadata.tier`)."
    )
    require_identity: bool = Field(
        default=False, description="Whether each end user must come with `user_hash`."
    )


class UpdateGateway(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    channels: list[str] | None = None
    may_set_routing: bool | None = None
    require_identity: bool | None = None


class GatewayView(BaseModel):
    gateway_id: str
    name: str
    channels: list[str]
    may_set_routing: bool
    require_identity: bool
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, gateway: Gateway) -> "GatewayView":
        return cls(
            gateway_id=gateway.gateway_id,
            name=gateway.name,
            channels=list(gateway.channels),
            may_set_routing=gateway.may_set_routing,
            require_identity=gateway.require_identity,
            active=gateway.active,
            created_at=gateway.created_at,
            updated_at=gateway.updated_at,
        )


class GatewayIssued(GatewayView):
    key: str | None = Field(
        default=None, description="The gateway's API key. It is shown only this once."
    )
    identity_secret: str | None = Field(
        default=None,
        description="The secret that signs end users' ids (`user_hash`). Shown only this once.",
    )

    @classmethod
    def issued(cls, issued: Issued) -> "GatewayIssued":
        return cls(
            **GatewayView.of(issued.gateway).model_dump(),
            key=issued.key,
            identity_secret=issued.identity_secret,
        )


class GatewayList(BaseModel):
    gateways: list[GatewayView]


def admin_router(auth: Auth, *, gateways: Gateways) -> APIRouter:
    router = APIRouter(
        prefix="/v1/admin", tags=["admin"], dependencies=[Depends(auth.admin)], responses=ERRORS
    )

    @router.post("/gateways", status_code=status.HTTP_201_CREATED)
    async def create_gateway(body: CreateGateway) -> GatewayIssued:
        """Create a gateway. The response holds its key and identity secret, which are not
        shown again."""
        issued = await gateways.create(
            body.name,
            body.channels,
            may_set_routing=body.may_set_routing,
            require_identity=body.require_identity,
        )
        return GatewayIssued.issued(issued)

    @router.get("/gateways")
    async def list_gateways() -> GatewayList:
        """Every gateway, revoked ones too, oldest first (no keys, no secrets)."""
        return GatewayList(gateways=[GatewayView.of(g) for g in await gateways.all()])

    @router.get("/gateways/{gateway_id}", responses={404: ONE[404]})
    async def get_gateway(gateway_id: str) -> GatewayView:
        return GatewayView.of(await gateways.get(gateway_id))

    @router.patch("/gateways/{gateway_id}", responses=ONE)
    async def update_gateway(gateway_id: str, body: UpdateGateway) -> GatewayView:
        """Change a gateway's channels or flags; fields left out stay as they are."""
        gateway = await gateways.update(
            gateway_id,
            channels=body.channels,
            may_set_routing=body.may_set_routing,
            require_identity=body.require_identity,
        )
        return GatewayView.of(gateway)

    @router.post("/gateways/{gateway_id}/rotate-key", responses=ONE)
    async def rotate_key(gateway_id: str) -> GatewayIssued:
        """A new key, shown only now; the old key stops working at once."""
        return GatewayIssued.issued(await gateways.rotate_key(gateway_id))

    @router.post("/gateways/{gateway_id}/rotate-identity-secret", responses=ONE)
    async def rotate_identity_secret(gateway_id: str) -> GatewayIssued:
        """A new identity secret, shown only now; hashes made with the old one stop
        matching at once."""
        return GatewayIssued.issued(await gateways.rotate_identity_secret(gateway_id))

    @router.post("/gateways/{gateway_id}/revoke", responses={404: ONE[404]})
    async def revoke(gateway_id: str) -> GatewayView:
        """Revoke for good: the key stops working and the gateway's threads are out of its
        reach. Threads and their history stay."""
        return GatewayView.of(await gateways.revoke(gateway_id))

    return router
