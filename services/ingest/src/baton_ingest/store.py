"""Ingest's own collection in MongoDB: ``gateways`` (threads and messages belong to the
conversation core)."""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_runtime import Document, Grouped

from .gateways import Gateway
from .registry import Changes


class MongoGateways:
    """One document per gateway, ``_id`` its id, with the SHA-256 of its key."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._gateways = db["gateways"]
        # Every gateway request looks its key up: requests that arrive together share a find.
        self._by_hash: Grouped[str, Gateway | None] = Grouped(self._find_by_hashes)

    async def ensure_indexes(self) -> None:
        await self._gateways.create_index("key_hash", unique=True)

    async def add(self, gateway: Gateway, *, key_hash: str) -> None:
        doc = {
            "_id": gateway.gateway_id,
            "name": gateway.name,
            "channels": list(gateway.channels),
            "may_set_routing": gateway.may_set_routing,
            "require_identity": gateway.require_identity,
            "identity_secret": gateway.identity_secret,
            "active": gateway.active,
            "created_at": gateway.created_at,
            "updated_at": gateway.updated_at,
            "key_hash": key_hash,
        }
        try:
            await self._gateways.insert_one(doc)
        except DuplicateKeyError as exc:  # 64 random bits of id, 256 of key: not a real case
            raise RuntimeError("gateway id or key collision; try again") from exc

    async def get(self, gateway_id: str) -> Gateway | None:
        doc = await self._gateways.find_one({"_id": gateway_id})
        return _gateway(doc) if doc else None

    async def by_key_hash(self, key_hash: str) -> Gateway | None:
        return await self._by_hash.submit(key_hash)

    async def _find_by_hashes(self, hashes: list[str]) -> list[Gateway | None]:
        distinct = list(dict.fromkeys(hashes))
        query: Document = {"active": True}
        query["key_hash"] = {"$in": distinct} if len(distinct) > 1 else distinct[0]
        found = {doc["key_hash"]: _gateway(doc) async for doc in self._gateways.find(query)}
        return [found.get(h) for h in hashes]

    async def all(self) -> list[Gateway]:
        cursor = self._gateways.find({}).sort([("created_at", 1)])
        return [_gateway(doc) async for doc in cursor]

    async def change(self, gateway_id: str, changes: Changes, *, now: datetime) -> Gateway | None:
        fields: Document = {"updated_at": now}
        if changes.key_hash is not None:
            fields["key_hash"] = changes.key_hash
        if changes.identity_secret is not None:
            fields["identity_secret"] = changes.identity_secret
        if changes.channels is not None:
            fields["channels"] = list(changes.channels)
        if changes.may_set_routing is not None:
            fields["may_set_routing"] = changes.may_set_routing
        if changes.require_identity is not None:
            fields["require_identity"] = changes.require_identity
        doc = await self._gateways.find_one_and_update(
            {"_id": gateway_id, "active": True},
            {"$set": fields},
            return_document=ReturnDocument.AFTER,
        )
        return _gateway(doc) if doc else None

    async def revoke(self, gateway_id: str, *, now: datetime) -> Gateway | None:
        doc = await self._gateways.find_one_and_update(
            {"_id": gateway_id},
            {"$set": {"active": False, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return _gateway(doc) if doc else None


def _gateway(doc: Document) -> Gateway:
    return Gateway(
        gateway_id=doc["_id"],
        name=doc["name"],
        channels=tuple(doc["channels"]),
        may_set_routing=bool(doc["may_set_routing"]),
        require_identity=bool(doc["require_identity"]),
        identity_secret=doc["identity_secret"],
        active=bool(doc["active"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )
