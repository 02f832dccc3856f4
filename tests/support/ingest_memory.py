"""Ingest's gateway store in memory, for unit tests of its use cases."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TypeVar

from baton_ingest.gateways import Gateway
from baton_ingest.registry import Changes

T = TypeVar("T")


class MemoryGateways:
    def __init__(self) -> None:
        self.gateways: dict[str, Gateway] = {}
        self.key_hashes: dict[str, str] = {}
        """The stored hash of each gateway's key, by gateway id."""

    async def add(self, gateway: Gateway, *, key_hash: str) -> None:
        assert gateway.gateway_id not in self.gateways
        assert key_hash not in self.key_hashes.values()
        self.gateways[gateway.gateway_id] = gateway
        self.key_hashes[gateway.gateway_id] = key_hash

    async def get(self, gateway_id: str) -> Gateway | None:
        return self.gateways.get(gateway_id)

    async def by_key_hash(self, key_hash: str) -> Gateway | None:
        for gateway_id, stored in self.key_hashes.items():
            gateway = self.gateways[gateway_id]
            if stored == key_hash and gateway.active:
                return gateway
        return None

    async def all(self) -> list[Gateway]:
        return sorted(self.gateways.values(), key=lambda g: g.created_at)

    async def change(self, gateway_id: str, changes: Changes, *, now: datetime) -> Gateway | None:
        gateway = self.gateways.get(gateway_id)
        if gateway is None or not gateway.active:
            return None
        if changes.key_hash is not None:
            self.key_hashes[gateway_id] = changes.key_hash
        changed = dataclasses.replace(
            gateway,
            updated_at=now,
            identity_secret=_or(changes.identity_secret, gateway.identity_secret),
            channels=_or(changes.channels, gateway.channels),
            may_set_routing=_or(changes.may_set_routing, gateway.may_set_routing),
            require_identity=_or(changes.require_identity, gateway.require_identity),
        )
        self.gateways[gateway_id] = changed
        return changed

    async def revoke(self, gateway_id: str, *, now: datetime) -> Gateway | None:
        gateway = self.gateways.get(gateway_id)
        if gateway is None:
            return None
        revoked = dataclasses.replace(gateway, active=False, updated_at=now)
        self.gateways[gateway_id] = revoked
        return revoked


def _or(new: T | None, old: T) -> T:
    return old if new is None else new
