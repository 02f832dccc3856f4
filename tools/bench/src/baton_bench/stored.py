"""Everything the bench reads straight from what the services stored in MongoDB.

The services' collections are theirs; when one changes shape, this module is the one place
the bench follows it. It relies on:

- ``messages`` (thread history), by ``_id`` (the message id): a user message's
  ``created_at``, when ingest took it (also the moment of its ``message.received``); a
  reply's ``metadata.latency_ms``, how long the model call behind it took, as the
  ai-responder timed it around the SDK call.
- ``handled_events``, by ``_id`` ``router:<event id>`` for each ``message.received`` (its
  event id derives from the message id: ``received_event_id``): ``at``, when the router
  stored what handling it produced (its ``route.decided``), just before publishing it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pymongo import AsyncMongoClient

from baton_ingest.domain import received_event_id
from baton_router.app import SERVICE as ROUTER
from baton_testkit import Observed

Mongo = AsyncMongoClient[dict[str, Any]]


async def by_ids(
    mongo: Mongo, database: str, collection: str, ids: Sequence[str]
) -> AsyncIterator[dict[str, Any]]:
    """The documents of ``collection`` with these ids that exist, a few hundred per query."""
    for start in range(0, len(ids), 200):
        async for doc in mongo[database][collection].find(
            {"_id": {"$in": ids[start : start + 200]}}
        ):
            yield doc


async def stored_times(mongo: Mongo, database: str, observed: Observed) -> None:
    """Fill in when ingest took each accepted message and when the router decided its
    route (``observed.received_at``, ``observed.routed_at``)."""
    asked = [str(m) for m in observed.accepted_at]
    async for doc in by_ids(mongo, database, "messages", asked):
        observed.received_at[uuid.UUID(doc["_id"])] = doc["created_at"].timestamp()
    handled = {f"{ROUTER}:{received_event_id(m)}": m for m in observed.accepted_at}
    async for doc in by_ids(mongo, database, "handled_events", list(handled)):
        observed.routed_at[handled[doc["_id"]]] = doc["at"].timestamp()


async def model_seconds(mongo: Mongo, database: str, observed: Observed) -> dict[uuid.UUID, float]:
    """User message -> how long the model call behind its reply took."""
    replies = {str(reply): asked for asked, reply in observed.reply_of.items()}
    found: dict[uuid.UUID, float] = {}
    async for doc in by_ids(mongo, database, "messages", list(replies)):
        latency_ms = (doc.get("metadata") or {}).get("latency_ms")
        if latency_ms is not None:
            found[replies[doc["_id"]]] = latency_ms / 1000
    return found
