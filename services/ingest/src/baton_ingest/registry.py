"""The gateways an admin sets up: created with a key shown once, rotated, changed, revoked;
and the lookup of a request's key."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from baton_contracts import utc_now

from .domain import IngestError
from .gateways import (
    Gateway,
    check_channels,
    check_gateway,
    hash_key,
    looks_like_key,
    new_identity_secret,
    new_key,
)


class UnknownGatewayError(IngestError):
    status = 404
    code = "unknown_gateway"


class GatewayRevokedError(IngestError):
    status = 409
    code = "gateway_revoked"


@dataclass(frozen=True)
class Changes:
    """What changes in a gateway; None leaves a field as it is."""

    key_hash: str | None = None
    identity_secret: str | None = None
    channels: tuple[str, ...] | None = None
    may_set_routing: bool | None = None
    require_identity: bool | None = None


class GatewayStore(Protocol):
    async def add(self, gateway: Gateway, *, key_hash: str) -> None: ...

    async def get(self, gateway_id: str) -> Gateway | None: ...

    async def by_key_hash(self, key_hash: str) -> Gateway | None:
        """The active gateway whose key has this hash."""
        ...

    async def all(self) -> list[Gateway]:
        """Every gateway, revoked ones too, oldest first."""
        ...

    async def change(self, gateway_id: str, changes: Changes, *, now: datetime) -> Gateway | None:
        """Apply ``changes`` to an active gateway; None when there is none of that id."""
        ...

    async def revoke(self, gateway_id: str, *, now: datetime) -> Gateway | None:
        """Deactivate the gateway: its key stops working at once. None if unknown."""
        ...


@dataclass(frozen=True)
class Issued:
    """A gateway with a secret just made for it, shown to the admin this once."""

    gateway: Gateway
    key: str | None = None
    identity_secret: str | None = None


class Gateways:
    def __init__(self, store: GatewayStore) -> None:
        self._store = store

    async def create(
        self,
        name: str,
        channels: Sequence[str],
        *,
        may_set_routing: bool = False,
        require_identity: bool = False,
    ) -> Issued:
        """A new gateway with its key and identity secret, both shown only now."""
        name, cleaned = check_gateway(name, channels)
        now = utc_now()
        gateway = Gateway(
            gateway_id=f"gw-{uuid.uuid4().hex[:16]}",
            name=name,
            channels=cleaned,
            may_set_routing=may_set_routing,
            require_identity=require_identity,
            identity_secret=new_identity_secret(),
            active=True,
            created_at=now,
            updated_at=now,
        )
        key = new_key()
        await self._store.add(gateway, key_hash=hash_key(key))
        return Issued(gateway, key=key, identity_secret=gateway.identity_secret)

    async def authenticate(self, key: str) -> Gateway | None:
        """The active gateway of ``key``, or None."""
        if not looks_like_key(key):
            return None
        return await self._store.by_key_hash(hash_key(key))

    async def all(self) -> list[Gateway]:
        return await self._store.all()

    async def get(self, gateway_id: str) -> Gateway:
        gateway = await self._store.get(gateway_id)
        if gateway is None:
            raise UnknownGatewayError("no gateway has this id")
        return gateway

    async def rotate_key(self, gateway_id: str) -> Issued:
        """A new key for the gateway; the old one stops working at once."""
        key = new_key()
        gateway = await self._change(gateway_id, Changes(key_hash=hash_key(key)))
        return Issued(gateway, key=key)

    async def rotate_identity_secret(self, gateway_id: str) -> Issued:
        """A new identity secret; hashes made with the old one stop matching at once."""
        secret = new_identity_secret()
        gateway = await self._change(gateway_id, Changes(identity_secret=secret))
        return Issued(gateway, identity_secret=secret)

    async def update(
        self,
        gateway_id: str,
        *,
        channels: Sequence[str] | None = None,
        may_set_routing: bool | None = None,
        require_identity: bool | None = None,
    ) -> Gateway:
        changes = Changes(
            channels=check_channels(channels) if channels is not None else None,
            may_set_routing=may_set_routing,
            require_identity=require_identity,
        )
        return await self._change(gateway_id, changes)

    async def revoke(self, gateway_id: str) -> Gateway:
        """Revoked for good: its key stops working and its threads are out of reach."""
        gateway = await self._store.revoke(gateway_id, now=utc_now())
        if gateway is None:
            raise UnknownGatewayError("no gateway has this id")
        return gateway

    async def _change(self, gateway_id: str, changes: Changes) -> Gateway:
        changed = await self._store.change(gateway_id, changes, now=utc_now())
        if changed is not None:
            return changed
        await self.get(gateway_id)  # unknown: a 404
        raise GatewayRevokedError("this gateway is revoked; create a new one")
