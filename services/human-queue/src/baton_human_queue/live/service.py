"""The live console's parts, built once by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from baton_runtime import Document

from ..domain import Agent
from ..ports import AgentStore
from .access import AgentByTokenHash, Recheck, StreamAccess
from .feed import TicketFeed
from .hub import Hub
from .settings import LiveSettings
from .store import MongoStreamTickets, MongoTicketChanges


@dataclass(frozen=True)
class Live:
    settings: LiveSettings
    hub: Hub
    feed: TicketFeed
    access: StreamAccess
    recheck: Recheck
    changes: MongoTicketChanges
    stream_tickets: MongoStreamTickets

    @classmethod
    def build(
        cls,
        db: AsyncDatabase[Document],
        settings: LiveSettings,
        *,
        agent_by_token_hash: AgentByTokenHash,
    ) -> Live:
        changes = MongoTicketChanges(db)
        stream_tickets = MongoStreamTickets(db)
        hub = Hub(
            per_agent=settings.max_streams_per_agent,
            total=settings.max_streams,
            queue_size=settings.queue_size,
        )
        return cls(
            settings=settings,
            hub=hub,
            feed=TicketFeed(changes, hub, overlap_s=settings.overlap_s, batch=settings.batch),
            access=StreamAccess(stream_tickets, agent_by_token_hash, ttl_s=settings.ticket_ttl_s),
            recheck=Recheck(changes, limit=settings.recheck_limit),
            changes=changes,
            stream_tickets=stream_tickets,
        )

    async def ensure_indexes(self) -> None:
        await self.changes.ensure_indexes()
        await self.stream_tickets.ensure_indexes()


def agent_by_token_hash(store: AgentStore) -> AgentByTokenHash:
    """The re-check of a stream's agent, on the agent store: active, and with this token."""

    async def find(token_hash: str) -> Agent | None:
        found = await store.by_token_hash(token_hash)
        return found[0].agent if found is not None else None

    return find
