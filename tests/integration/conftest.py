"""Fixtures of the integration tests that talk to MongoDB directly."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from baton_runtime import Document, MongoSettings


@pytest.fixture
async def db(
    mongo_client: AsyncMongoClient[Document], mongo_settings: MongoSettings
) -> AsyncIterator[AsyncDatabase[Document]]:
    """A database of the test's own, dropped after it."""
    database = mongo_client[f"{mongo_settings.database}_{uuid.uuid4().hex[:8]}"]
    yield database
    await mongo_client.drop_database(database.name)
