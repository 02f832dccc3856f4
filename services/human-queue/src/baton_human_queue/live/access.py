"""Who may open a stream, and whether they still may: stream tickets and re-checks.

A browser's ``EventSource`` cannot send an ``Authorization`` header, and a URL lands in
access logs, proxies and browser history, so the agent's long-lived token never goes into
one (decision 17). Instead the agent trades its token for a stream ticket: random (256
bits), short-lived, good for one stream, bound to the agent and to the token it was issued
for. Only its SHA-256 is stored, in MongoDB, so any instance can redeem it and a ticket is
used once even when two instances race for it (one conditional write).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from baton_contracts import utc_now
from baton_runtime import ApiError

from ..domain import Agent
from .hub import Stream

STREAM_TICKET_PREFIX = "bqs_"

AgentByTokenHash = Callable[[str], Awaitable[Agent | None]]
"""The active agent whose current token has this SHA-256, if any."""


@dataclass(frozen=True)
class StoredStreamTicket:
    agent_id: str
    token_hash: str
    expires_at: datetime


@dataclass(frozen=True)
class IssuedStreamTicket:
    ticket: str
    expires_at: datetime


class StreamTicketStore(Protocol):
    async def add(
        self,
        ticket_hash: str,
        ticket: StoredStreamTicket,
        *,
        now: datetime,
    ) -> None: ...

    async def use(self, ticket_hash: str, *, now: datetime) -> StoredStreamTicket | None:
        """Mark the ticket used, if it was not; the ticket as it was, else None."""
        ...

    async def known(self, ticket_hash: str) -> bool:
        """Whether the ticket was issued (and not yet cleaned away)."""
        ...


class VisibleVersions(Protocol):
    async def open_versions(self, agent: Agent, *, limit: int) -> dict[str, datetime] | None:
        """``updated_at`` of each open ticket the agent may see; None when over ``limit``."""
        ...


def hash_ticket(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


class StreamAccess:
    def __init__(
        self,
        tickets: StreamTicketStore,
        agent_by_token_hash: AgentByTokenHash,
        *,
        ttl_s: float,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._tickets = tickets
        self._agent_by_token_hash = agent_by_token_hash
        self._ttl = timedelta(seconds=ttl_s)
        self._now = clock

    async def issue(self, agent: Agent, *, token_hash: str) -> IssuedStreamTicket:
        now = self._now()
        ticket = STREAM_TICKET_PREFIX + secrets.token_urlsafe(32)
        stored = StoredStreamTicket(
            agent_id=agent.agent_id, token_hash=token_hash, expires_at=now + self._ttl
        )
        await self._tickets.add(hash_ticket(ticket), stored, now=now)
        return IssuedStreamTicket(ticket=ticket, expires_at=stored.expires_at)

    async def redeem(self, ticket: str | None, *, caller: Agent | None) -> tuple[Agent, str]:
        """The agent a stream ticket was issued to, and the hash of its token; the ticket is
        used up. ``caller``: the agent of a bearer token sent along, which must be the same."""
        if not ticket:
            raise ApiError(
                401,
                "unauthenticated",
                "send a stream ticket: ?ticket=… (POST /v1/agents/me/stream-ticket issues one)",
            )
        digest = hash_ticket(ticket)
        now = self._now()
        stored = (
            await self._tickets.use(digest, now=now)
            if ticket.startswith(STREAM_TICKET_PREFIX)
            else None
        )
        if stored is None:
            if ticket.startswith(STREAM_TICKET_PREFIX) and await self._tickets.known(digest):
                raise ApiError(
                    401, "stream_ticket_used", "this stream ticket was used already; get a new one"
                )
            raise ApiError(401, "invalid_stream_ticket", "this is not a valid stream ticket")
        if stored.expires_at <= now:
            raise ApiError(401, "stream_ticket_expired", "this stream ticket has expired")
        if caller is not None and caller.agent_id != stored.agent_id:
            raise ApiError(
                403, "stream_ticket_other_agent", "this stream ticket was issued to another agent"
            )
        agent = await self._agent_by_token_hash(stored.token_hash)
        if agent is None or agent.agent_id != stored.agent_id:
            raise ApiError(
                401, "invalid_token", "the agent is deactivated or its token was replaced"
            )
        return agent, stored.token_hash

    async def still_allowed(self, stream: Stream) -> bool:
        """Re-check a stream's agent: still active, with the same token. Its departments and
        role are taken over, so the stream filters by what the agent may see now."""
        agent = await self._agent_by_token_hash(stream.token_hash)
        if agent is None or agent.agent_id != stream.agent.agent_id:
            return False
        stream.agent = agent
        return True


class Recheck:
    """A stream's safety net against missed changes: every re-check compares the versions of
    the open tickets the agent may see with the previous re-check's. A ticket that changed
    without a hint reaching this stream (and before the feed's newest change, so not merely
    on its way) means a change was missed: the stream gets a ``resync``."""

    def __init__(self, versions: VisibleVersions, *, limit: int) -> None:
        self._versions = versions
        self._limit = limit

    async def missed(
        self,
        stream: Stream,
        previous: dict[str, datetime] | None,
        high_water: datetime | None,
    ) -> tuple[bool, dict[str, datetime] | None]:
        """Whether a change was missed since ``previous``; and the versions now."""
        offered = stream.start_tracking()
        current = await self._versions.open_versions(stream.agent, limit=self._limit)
        if previous is None or current is None or offered is None or high_water is None:
            return False, current
        changed = {
            ticket_id
            for ticket_id, at in current.items()
            if previous.get(ticket_id) != at and at <= high_water
        } | (previous.keys() - current.keys())
        return bool(changed - offered), current
