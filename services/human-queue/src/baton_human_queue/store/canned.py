"""Canned replies in MongoDB: the ``canned_responses`` collection, one document per reply.

A reply's ``scope`` is its department, or ``*`` for a shared reply; the unique index on
(scope, shortcut) makes a shortcut unique within its department, concurrent creations
included, without relying on how an index treats a missing field.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from baton_runtime import Document

from ..canned import CannedResponse, ShortcutTakenError, scope_of


class MongoCanned:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._canned = db["canned_responses"]

    async def ensure_indexes(self) -> None:
        await self._canned.create_index(
            [("scope", ASCENDING), ("shortcut", ASCENDING)], unique=True
        )

    async def add(self, canned: CannedResponse) -> None:
        try:
            await self._canned.insert_one(_document(canned))
        except DuplicateKeyError as exc:
            raise _taken(canned) from exc

    async def get(self, canned_id: str) -> CannedResponse | None:
        doc = await self._canned.find_one({"_id": canned_id})
        return _canned(doc) if doc else None

    async def replace(self, canned: CannedResponse) -> bool:
        try:
            result = await self._canned.replace_one({"_id": canned.canned_id}, _document(canned))
        except DuplicateKeyError as exc:
            raise _taken(canned) from exc
        return result.matched_count == 1

    async def delete(self, canned_id: str) -> bool:
        result = await self._canned.delete_one({"_id": canned_id})
        return result.deleted_count == 1

    async def search(self, departments: Sequence[str | None] | None) -> list[CannedResponse]:
        query: Document = {}
        if departments is not None:
            query = {"scope": {"$in": [scope_of(d) for d in departments]}}
        cursor = self._canned.find(query).sort([("scope", ASCENDING), ("shortcut", ASCENDING)])
        return [_canned(doc) async for doc in cursor]


def _taken(canned: CannedResponse) -> ShortcutTakenError:
    where = f"department {canned.department!r}" if canned.department else "the shared replies"
    return ShortcutTakenError(f"{where} has a canned response {canned.shortcut!r} already")


def _document(canned: CannedResponse) -> Document:
    doc = canned.model_dump(exclude={"canned_id"})
    return {"_id": canned.canned_id, "scope": scope_of(canned.department), **doc}


def _canned(doc: Document) -> CannedResponse:
    fields = {k: v for k, v in doc.items() if k not in ("_id", "scope")}
    return CannedResponse.model_validate({**fields, "canned_id": doc["_id"]})
