"""Claims per second on the human-queue API, against a raw ``find_one_and_update`` loop on
the same server, with the number of double claims."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp
from pymongo import AsyncMongoClient, ReturnDocument

from baton_contracts import utc_now
from baton_human_queue.tickets import EscalationTicket, ticket_document
from baton_testkit import System

from .accounting import TIMEOUT


async def claims(
    system: System,
    mongo: AsyncMongoClient[dict[str, Any]],
    database: str,
    agents: int,
    tickets: int,
) -> dict[str, Any]:
    """``agents`` agents each try to claim every one of ``tickets`` pending tickets."""
    queue = system.programs["human-queue"].url
    admin = {"Authorization": f"Bearer {system.admin_token}"}
    async with aiohttp.ClientSession(base_url=queue, timeout=TIMEOUT) as client:
        tokens = []
        for i in range(agents):
            async with client.post(
                "/v1/admin/agents",
                json={"name": f"Agent {i}", "departments": ["bench"]},
                headers=admin,
            ) as response:
                response.raise_for_status()
                tokens.append((await response.json())["token"])
        ids = await seed_tickets(mongo[database]["tickets"], tickets)
        wins: dict[str, int] = {}

        async def agent(token: str) -> None:
            headers = {"Authorization": f"Bearer {token}"}
            for ticket_id in ids:
                async with client.post(
                    f"/v1/tickets/{ticket_id}/claim", headers=headers
                ) as response:
                    if response.status == 200:
                        wins[ticket_id] = wins.get(ticket_id, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(agent(t) for t in tokens))
        elapsed = time.perf_counter() - started
        attempts = agents * len(ids)
        api = {
            "agents": agents,
            "tickets": len(ids),
            "attempts": attempts,
            "attempts_per_second": attempts / elapsed,
            "claimed": len(wins),
            "double_claims": sum(1 for n in wins.values() if n > 1),
        }

        # A collection of its own: the raw loop's half-written claims are not the queue's.
        collection = mongo[database]["bench_raw_tickets"]
        raw_ids = await seed_tickets(collection, tickets)
        raw_wins: dict[str, int] = {}

        async def raw(agent_id: int) -> None:
            for ticket_id in raw_ids:
                before = await collection.find_one_and_update(
                    {"_id": ticket_id, "status": "pending"},
                    {"$set": {"status": "assigned", "holder": {"agent_id": str(agent_id)}}},
                    return_document=ReturnDocument.BEFORE,
                )
                if before is not None:
                    raw_wins[ticket_id] = raw_wins.get(ticket_id, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(raw(i) for i in range(agents)))
        raw_elapsed = time.perf_counter() - started
    return {
        "api": api,
        "raw_find_one_and_update": {
            "attempts_per_second": agents * len(raw_ids) / raw_elapsed,
            "claimed": len(raw_wins),
            "double_claims": sum(1 for n in raw_wins.values() if n > 1),
        },
    }


async def seed_tickets(collection: Any, count: int) -> list[str]:
    """Pending tickets written straight into ``collection``, so that only the claiming is
    measured (ticket creation is covered by the pipeline figures)."""
    now = utc_now()
    ids = []
    for _ in range(count):
        ticket_id = str(uuid.uuid4())
        ticket = EscalationTicket(
            ticket_id=ticket_id,
            priority=10,
            department="bench",
            thread_id=f"bench-{uuid.uuid4().hex[:10]}",
            user_message_id=uuid.uuid4(),
            source_event_id=uuid.uuid4(),
            correlation_id=uuid.uuid4(),
            sla_due_at=now,
            created_at=now,
            updated_at=now,
            reason="bench",
        )
        await collection.insert_one(ticket_document(ticket))
        ids.append(ticket_id)
    return ids
