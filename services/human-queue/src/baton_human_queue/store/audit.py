"""The action audit in MongoDB: ``action_audit``, one document per record, under its id."""

from __future__ import annotations

from datetime import datetime

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from baton_runtime import Document, insert_once

from ..audit import ActionRecord


class MongoActionAudit:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._records = db["action_audit"]

    async def ensure_indexes(self) -> None:
        await self._records.create_index([("ticket_id", ASCENDING)])
        await self._records.create_index([("at", ASCENDING)])

    async def add(self, record: ActionRecord) -> bool:
        # Arguments and schemas as JSON types; times as dates, for the range queries.
        doc = record.model_dump(mode="json", exclude={"record_id", "at"})
        return await insert_once(self._records, {"_id": record.record_id, **doc, "at": record.at})

    async def of_ticket(self, ticket_id: str) -> list[ActionRecord]:
        cursor = self._records.find({"ticket_id": ticket_id})
        return sorted([_record(doc) async for doc in cursor], key=ActionRecord.sort_key)

    async def between(
        self, since: datetime | None, until: datetime | None, *, batch: int = 500
    ) -> list[ActionRecord]:
        at: Document = {}
        if since is not None:
            at["$gte"] = since
        if until is not None:
            at["$lt"] = until
        query: Document = {"at": at} if at else {}
        cursor = self._records.find(query).sort([("at", ASCENDING)]).batch_size(batch)
        return sorted([_record(doc) async for doc in cursor], key=ActionRecord.sort_key)


def _record(doc: Document) -> ActionRecord:
    fields = {k: v for k, v in doc.items() if k != "_id"}
    return ActionRecord.model_validate({**fields, "record_id": doc["_id"]})
