"""Who calls the API: a gateway, with its key, or the admin, with the admin token.

No ``from __future__ import annotations`` here: FastAPI reads the dependencies' annotations.
"""

import hmac
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr

from baton_runtime import ApiError

from ..gateways import Gateway
from ..registry import Gateways

# Two schemes, so the OpenAPI document says which credential each operation takes.
gateway_bearer = HTTPBearer(
    scheme_name="gatewayKey",
    auto_error=False,
    description="A gateway's key (`bgw_...`), created by an admin and shown once.",
)
admin_bearer = HTTPBearer(
    scheme_name="adminToken",
    auto_error=False,
    description="The admin token (`INGEST_ADMIN_TOKEN`), for the `/v1/admin` endpoints.",
)
GatewayCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(gateway_bearer)]
AdminCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(admin_bearer)]


class Auth:
    """The API's two dependencies: :meth:`gateway` (the calling gateway) and :meth:`admin`."""

    def __init__(self, gateways: Gateways, admin_token: SecretStr) -> None:
        self._gateways = gateways
        self._admin_token = admin_token

    async def gateway(self, credentials: GatewayCredentials) -> Gateway:
        if credentials is None:
            raise ApiError(401, "unauthenticated", "send a gateway key: Authorization: Bearer …")
        gateway = await self._gateways.authenticate(credentials.credentials)
        if gateway is None:
            raise ApiError(401, "invalid_key", "the bearer token is not a valid gateway key")
        return gateway

    async def admin(self, credentials: AdminCredentials) -> None:
        if credentials is None:
            raise ApiError(401, "unauthenticated", "send the admin token: Authorization: Bearer …")
        expected = self._admin_token.get_secret_value().encode()
        if not hmac.compare_digest(credentials.credentials.encode(), expected):
            raise ApiError(401, "invalid_token", "the bearer token is not the admin token")
