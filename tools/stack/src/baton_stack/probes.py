"""Readiness probes: real requests through the clients the services use.

A server that accepts connections may still be starting; these ask for what the services will
need first, so that a stack reported as up serves them at once.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from .errors import ProbeError

PROBE_TOPIC = "baton-stack-probe"
PROBE_GROUP = "baton-stack-probe"
CLIENT_ID = "baton-stack"
TIMEOUT_SECONDS = 5.0


async def _kafka(bootstrap_servers: str, timeout: float) -> None:
    timeout_ms = int(timeout * 1000)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=CLIENT_ID,
        acks="all",
        request_timeout_ms=timeout_ms,
    )
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id=CLIENT_ID, request_timeout_ms=timeout_ms
    )
    try:
        async with asyncio.timeout(timeout):
            await producer.start()
            # Creates the topic on first use and needs a partition leader that takes writes.
            await producer.send_and_wait(PROBE_TOPIC, os.urandom(16), partition=0)
            await admin.start()
            # Makes the broker create __consumer_offsets, so that the first consumer group
            # does not wait for it.
            await admin.find_coordinator(PROBE_GROUP)
    finally:
        await producer.stop()
        await admin.close()


def kafka(bootstrap_servers: str, timeout: float = TIMEOUT_SECONDS) -> None:
    """Produce one record (acks=all) and find a group coordinator; ProbeError if either fails."""
    try:
        asyncio.run(_kafka(bootstrap_servers, timeout))
    except TimeoutError:
        raise ProbeError(
            f"Kafka at {bootstrap_servers} did not answer within {timeout:.0f} s"
        ) from None
    except (KafkaError, OSError) as exc:
        raise ProbeError(f"Kafka at {bootstrap_servers}: {exc!r}") from exc


def mongo(url: str, timeout: float = TIMEOUT_SECONDS) -> None:
    """``ping`` the admin database; ProbeError unless the server says ok."""
    timeout_ms = int(timeout * 1000)
    client: MongoClient[dict[str, Any]] = MongoClient(
        url,
        directConnection=True,
        appname=CLIENT_ID,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
        serverSelectionTimeoutMS=timeout_ms,
    )
    try:
        client.admin.command("ping")
    except PyMongoError as exc:
        raise ProbeError(f"MongoDB at {url}: {exc}") from exc
    finally:
        client.close()
