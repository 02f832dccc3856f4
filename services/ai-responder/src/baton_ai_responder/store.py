"""The AI responder's own state: requests waiting for a person, and the record of every
action (a configured tool's call) it ran."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Protocol

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

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
    tool_name: str | None = None
    """The tool whose call waits for approval (kind ``action``)."""


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
                "tool_name": request.tool_name,
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
        tool_name=doc.get("tool_name"),
    )


@dataclass(frozen=True)
class Execution:
    """An action's record: written as ``started`` before the call, ``done`` after it."""

    key: str
    done: bool
    attempts: int
    ok: bool = False
    content: str = ""
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0


class ExecutionStore(Protocol):
    async def begin(
        self, key: str, *, tool_name: str, thread_id: str, arguments: dict[str, Any]
    ) -> Execution | None:
        """Record that the call under ``key`` is about to be sent. None when it never was
        before; else its record as it stood: ``done`` (do not call again), or started by
        an attempt that never recorded its end."""
        ...

    async def finish(self, key: str, execution: Execution) -> None: ...


class MongoExecutions:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._executions = db["ai_tool_executions"]

    async def begin(
        self, key: str, *, tool_name: str, thread_id: str, arguments: dict[str, Any]
    ) -> Execution | None:
        # One conditional write: the first attempt inserts, a later one counts itself; a
        # record already done matches nothing, and its upsert meets the unique _id.
        try:
            before = await self._executions.find_one_and_update(
                {"_id": key, "status": {"$ne": "done"}},
                {
                    "$setOnInsert": {
                        "tool_name": tool_name,
                        "thread_id": thread_id,
                        "arguments": arguments,
                        "status": "started",
                        "started_at": utc_now(),
                    },
                    "$inc": {"attempts": 1},
                },
                upsert=True,
            )
        except DuplicateKeyError:
            done = await self._executions.find_one({"_id": key})
            assert done is not None
            return _execution(done)
        return _execution(before) if before is not None else None

    async def finish(self, key: str, execution: Execution) -> None:
        await self._executions.update_one(
            {"_id": key},
            {
                "$set": {
                    "status": "done",
                    "ok": execution.ok,
                    "content": execution.content,
                    "status_code": execution.status_code,
                    "error": execution.error,
                    "duration_ms": execution.duration_ms,
                    "finished_at": utc_now(),
                }
            },
        )


def _execution(doc: Document) -> Execution:
    return Execution(
        key=doc["_id"],
        done=doc.get("status") == "done",
        attempts=int(doc.get("attempts", 1)),
        ok=bool(doc.get("ok", False)),
        content=doc.get("content", ""),
        status_code=doc.get("status_code"),
        error=doc.get("error"),
        duration_ms=int(doc.get("duration_ms", 0)),
    )
