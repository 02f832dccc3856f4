"""MongoDB wiring through PyMongo's native async API."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from .settings import MongoSettings

Document = dict[str, Any]


def connect_mongo(settings: MongoSettings, *, app_name: str) -> AsyncMongoClient[Document]:
    """A client for ``settings``. PyMongo connects lazily, on the first operation."""
    options: dict[str, Any] = {
        "appname": app_name,
        "serverSelectionTimeoutMS": settings.server_selection_timeout_ms,
        "tz_aware": True,
    }
    if settings.tls_ca_file is not None:
        options["tlsCAFile"] = str(settings.tls_ca_file)
    return AsyncMongoClient(settings.url.get_secret_value(), **options)


def database(
    client: AsyncMongoClient[Document], settings: MongoSettings
) -> AsyncDatabase[Document]:
    return client[settings.database]


async def insert_once(collection: Any, document: Document) -> bool:
    """Insert ``document`` unless its ``_id`` (or another unique key) exists; True if new.

    Ids derive from the triggering event, so a replayed event finds its own earlier write.
    """
    try:
        await collection.insert_one(document)
    except DuplicateKeyError:
        return False
    return True
