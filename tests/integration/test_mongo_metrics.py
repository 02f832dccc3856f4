"""Every MongoDB command a service sends is counted and timed for /metrics."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY
from pymongo.errors import OperationFailure

from baton_runtime import MongoSettings, connect_mongo, insert_once


def commands(service: str, command: str, outcome: str = "ok") -> float:
    value = REGISTRY.get_sample_value(
        "baton_mongo_commands_total", {"service": service, "command": command, "outcome": outcome}
    )
    return value or 0.0


def timed(service: str, command: str) -> float:
    value = REGISTRY.get_sample_value(
        "baton_mongo_command_seconds_count", {"service": service, "command": command}
    )
    return value or 0.0


async def test_commands_are_counted_by_name_and_outcome(mongo_settings: MongoSettings) -> None:
    service = f"metrics-{uuid.uuid4().hex[:6]}"
    client = connect_mongo(mongo_settings, app_name=service)
    db = client[f"{mongo_settings.database}_metrics_{uuid.uuid4().hex[:6]}"]
    try:
        assert await insert_once(db.docs, {"_id": "a"})
        assert not await insert_once(db.docs, {"_id": "a"})  # a duplicate is still an answer
        assert await db.docs.find_one({"_id": "a"}) == {"_id": "a"}
        with pytest.raises(OperationFailure):
            await db.command("no_such_command_here")
    finally:
        await client.drop_database(db.name)
        await client.close()

    assert commands(service, "insert") == 2
    assert commands(service, "find") == 1
    assert commands(service, "no_such_command_here", "failed") == 1
    assert timed(service, "insert") == 2
    # The driver's own handshakes and heartbeats are not counted.
    assert commands(service, "hello") == 0
    assert commands(service, "isMaster") == 0
