"""The webhooks' collections in MongoDB: ``webhooks`` (one per gateway, ``_id`` the
gateway's id) and ``webhook_deliveries`` (``_id`` the gateway's and the event's ids).
Neither depends on the gateways' own documents."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_runtime import Document

from .domain import Delivery, Status, Webhook, delivery_id


class MongoWebhooks:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._webhooks = db["webhooks"]

    async def put(
        self, gateway_id: str, *, url: str, events: Sequence[str], secret: str, now: datetime
    ) -> tuple[Webhook, bool]:
        before = await self._webhooks.find_one_and_update(
            {"_id": gateway_id},
            {
                "$set": {"url": url, "events": list(events), "updated_at": now},
                "$setOnInsert": {"secret": secret, "created_at": now},
            },
            upsert=True,
            return_document=ReturnDocument.BEFORE,
        )
        webhook = Webhook(
            gateway_id=gateway_id,
            url=url,
            events=tuple(events),
            secret=before["secret"] if before else secret,
            created_at=before["created_at"] if before else now,
            updated_at=now,
        )
        return webhook, before is None

    async def get(self, gateway_id: str) -> Webhook | None:
        doc = await self._webhooks.find_one({"_id": gateway_id})
        return _webhook(doc) if doc else None

    async def get_many(self, gateway_ids: Collection[str]) -> dict[str, Webhook]:
        cursor = self._webhooks.find({"_id": {"$in": list(gateway_ids)}})
        return {doc["_id"]: _webhook(doc) async for doc in cursor}

    async def all(self) -> list[Webhook]:
        cursor = self._webhooks.find({}).sort([("created_at", 1), ("_id", 1)])
        return [_webhook(doc) async for doc in cursor]

    async def set_secret(self, gateway_id: str, secret: str, *, now: datetime) -> Webhook | None:
        doc = await self._webhooks.find_one_and_update(
            {"_id": gateway_id},
            {"$set": {"secret": secret, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return _webhook(doc) if doc else None

    async def remove(self, gateway_id: str) -> bool:
        result = await self._webhooks.delete_one({"_id": gateway_id})
        return result.deleted_count > 0


def _webhook(doc: Document) -> Webhook:
    return Webhook(
        gateway_id=doc["_id"],
        url=doc["url"],
        events=tuple(doc["events"]),
        secret=doc["secret"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


class MongoDeliveries:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._deliveries = db["webhook_deliveries"]

    async def ensure_indexes(self) -> None:
        # Due deliveries of any gateway (which gateways have work), then of one gateway.
        await self._deliveries.create_index([("status", 1), ("due_at", 1)])
        await self._deliveries.create_index([("gateway_id", 1), ("status", 1), ("due_at", 1)])

    async def add(self, delivery: Delivery) -> bool:
        try:
            await self._deliveries.insert_one(_document(delivery))
        except DuplicateKeyError:
            return False
        return True

    async def due_gateways(self, now: datetime) -> list[str]:
        found = await self._deliveries.distinct(
            "gateway_id", {"status": "pending", "due_at": {"$lte": now}}
        )
        return [str(g) for g in found]

    async def due(self, gateway_id: str, now: datetime, *, limit: int) -> list[Delivery]:
        query = {"gateway_id": gateway_id, "status": "pending", "due_at": {"$lte": now}}
        cursor = self._deliveries.find(query).sort([("due_at", 1)]).limit(limit)
        return [_delivery(doc) async for doc in cursor]

    async def lease(
        self, delivery: Delivery, *, now: datetime, until: datetime, token: str
    ) -> Delivery | None:
        doc = await self._deliveries.find_one_and_update(
            {"_id": delivery.delivery_id, "status": "pending", "due_at": {"$lte": now}},
            {"$set": {"due_at": until, "lease": token}, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        return _delivery(doc) if doc else None

    async def delivered(self, delivery_id: str, *, token: str, now: datetime) -> bool:
        result = await self._deliveries.update_one(
            {"_id": delivery_id, "status": "pending", "lease": token},
            {
                "$set": {"status": "delivered", "delivered_at": now, "last_error": None},
                "$unset": {"body": "", "lease": "", "due_at": ""},
            },
        )
        return result.modified_count > 0

    async def failed(
        self, delivery_id: str, *, token: str, error: str, retry_at: datetime | None
    ) -> bool:
        fields: Document = {"last_error": error}
        if retry_at is None:
            fields["status"] = "dead"
        else:
            fields["due_at"] = retry_at
        result = await self._deliveries.update_one(
            {"_id": delivery_id, "status": "pending", "lease": token},
            {"$set": fields, "$unset": {"lease": ""}},
        )
        return result.modified_count > 0

    async def discard(self, delivery_id: str) -> bool:
        result = await self._deliveries.delete_one({"_id": delivery_id, "status": "pending"})
        return result.deleted_count > 0

    async def find(self, gateway_id: str, *, status: Status | None, limit: int) -> list[Delivery]:
        query: Document = {"gateway_id": gateway_id}
        if status is not None:
            query["status"] = status
        cursor = self._deliveries.find(query).sort([("created_at", 1), ("_id", 1)]).limit(limit)
        return [_delivery(doc) async for doc in cursor]

    async def redeliver(
        self, gateway_id: str, *, event_ids: Collection[uuid.UUID] | None, now: datetime
    ) -> int:
        query: Document = {"gateway_id": gateway_id, "status": "dead"}
        if event_ids is not None:
            query["_id"] = {"$in": [delivery_id(gateway_id, e) for e in event_ids]}
        result = await self._deliveries.update_many(
            query, {"$set": {"status": "pending", "due_at": now, "attempts": 0}}
        )
        return result.modified_count

    async def remove_gateway(self, gateway_id: str) -> int:
        result = await self._deliveries.delete_many({"gateway_id": gateway_id})
        return result.deleted_count

    async def purge_delivered(self, before: datetime) -> int:
        result = await self._deliveries.delete_many(
            {"status": "delivered", "delivered_at": {"$lt": before}}
        )
        return result.deleted_count

    async def counts(self) -> dict[tuple[str, Status], int]:
        cursor = await self._deliveries.aggregate(
            [
                {"$match": {"status": {"$in": ["pending", "dead"]}}},
                {"$group": {"_id": {"g": "$gateway_id", "s": "$status"}, "n": {"$sum": 1}}},
            ]
        )
        return {(doc["_id"]["g"], doc["_id"]["s"]): int(doc["n"]) async for doc in cursor}


def _document(delivery: Delivery) -> Document:
    return {
        "_id": delivery.delivery_id,
        "gateway_id": delivery.gateway_id,
        "event_id": str(delivery.event_id),
        "event_type": delivery.event_type,
        "thread_id": delivery.thread_id,
        "body": delivery.body,
        "occurred_at": delivery.occurred_at,
        "created_at": delivery.created_at,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "due_at": delivery.due_at,
        "last_error": delivery.last_error,
    }


def _delivery(doc: Document) -> Delivery:
    return Delivery(
        gateway_id=doc["gateway_id"],
        event_id=uuid.UUID(doc["event_id"]),
        event_type=doc["event_type"],
        thread_id=doc["thread_id"],
        body=bytes(doc.get("body") or b""),
        occurred_at=doc["occurred_at"],
        created_at=doc["created_at"],
        status=doc["status"],
        attempts=int(doc.get("attempts", 0)),
        due_at=doc.get("due_at"),
        last_error=doc.get("last_error"),
        delivered_at=doc.get("delivered_at"),
    )
