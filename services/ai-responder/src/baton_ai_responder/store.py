"""The AI responder's own state: requests waiting for a person."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from baton_contracts import HumanRequestKind, utc_now
from baton_runtime import Document, insert_once


@dataclass(frozen=True)
class PendingRequest:
    request_id: uuid.UUID
    kind: HumanRequestKind
    thread_id: str
    user_message_id: uuid.UUID
    tool_call_id: str | None = None
    draft_message_id: uuid.UUID | None = None


class RequestStore(Protocol):
    async def add(self, request: PendingRequest) -> None:
        """Remember ``request`` (idempotent: its id derives from the turn)."""
        ...

    async def get(self, request_id: uuid.UUID) -> PendingRequest | None: ...

    async def by_tool_call(self, tool_call_id: str) -> PendingRequest | None: ...

    async def close(self, request_id: uuid.UUID, **fields: Any) -> None: ...


class MongoRequests:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._requests = db["ai_requests"]

    async def ensure_indexes(self) -> None:
        await self._requests.create_index([("tool_call_id", ASCENDING)])

    async def add(self, request: PendingRequest) -> None:
        await insert_once(
            self._requests,
            {
                "_id": str(request.request_id),
                "kind": request.kind,
                "thread_id": request.thread_id,
                "user_message_id": str(request.user_message_id),
                "tool_call_id": request.tool_call_id,
                "draft_message_id": str(request.draft_message_id)
                if request.draft_message_id
                else None,
                "status": "open",
                "created_at": utc_now(),
            },
        )

    async def get(self, request_id: uuid.UUID) -> PendingRequest | None:
        doc = await self._requests.find_one({"_id": str(request_id)})
        return _request(doc) if doc else None

    async def by_tool_call(self, tool_call_id: str) -> PendingRequest | None:
        doc = await self._requests.find_one({"tool_call_id": tool_call_id})
        return _request(doc) if doc else None

    async def close(self, request_id: uuid.UUID, **fields: Any) -> None:
        await self._requests.update_one(
            {"_id": str(request_id)},
            {"$set": {"status": "closed", "closed_at": utc_now(), **fields}},
        )


def _request(doc: Document) -> PendingRequest:
    return PendingRequest(
        request_id=uuid.UUID(doc["_id"]),
        kind=doc["kind"],
        thread_id=doc["thread_id"],
        user_message_id=uuid.UUID(doc["user_message_id"]),
        tool_call_id=doc.get("tool_call_id"),
        draft_message_id=uuid.UUID(doc["draft_message_id"])
        if doc.get("draft_message_id")
        else None,
    )
