"""The live console's routes: a stream ticket for the signed-in agent, and the stream.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from fastapi.security import APIKeyQuery
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from baton_runtime import ApiError

from ..agents import Agents, hash_token
from ..api.auth import AgentCredentials
from ..domain import Agent
from .hub import KEEP_ALIVE, Resync, Stream, encode, sse
from .service import Live

stream_ticket = APIKeyQuery(
    name="ticket",
    scheme_name="streamTicket",
    auto_error=False,
    description="A stream ticket from `POST /v1/agents/me/stream-ticket`: short-lived, good "
    "for one stream. An `EventSource` cannot send a header, and the agent's token must never "
    "be in a URL.",
)
StreamTicketParam = Annotated[str | None, Depends(stream_ticket)]

STREAM_DESCRIPTION = """\
Server-sent events, one per change (`text/event-stream`):

- `ready` `{"agent_id", "stream_id", "keepalive_s"}`: the stream is open; read what you show now.
- `ticket` `{"ticket_id", "thread_id", "kind", "status", "department", "holder_id",
  "change": "created" | "updated", "updated_at"}`: a ticket you may see (or hold) changed,
  its thread's messages included; refetch it.
- `resync` `{"reason"}`: hints were dropped or may have been missed; refetch everything.
- `end` `{"reason": "revoked" | "reconnect"}`: the stream ends; get a new ticket to go on.

Comment lines (`: keep-alive`) come when nothing else did for a while."""


EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["ready", "ticket", "resync", "end"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}


class StreamTicketView(BaseModel):
    ticket: str = Field(description="Pass as `?ticket=` to `GET /v1/agents/me/stream`, once.")
    expires_at: datetime = Field(description="Unused after this, the ticket is refused.")


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing, invalid, expired or used stream ticket; agent deactivated"},
    403: {"description": "The stream ticket was issued to another agent than the bearer's"},
    429: {"description": "Too many streams open (for this agent, or on this instance)"},
}


def live_router(live: Live, agents: Agents) -> APIRouter:
    router = APIRouter(prefix="/v1/agents/me", tags=["live"])

    async def signed_in(credentials: AgentCredentials) -> tuple[Agent, str]:
        if credentials is None:
            raise ApiError(401, "unauthenticated", "send an agent token: Authorization: Bearer …")
        agent = await agents.authenticate(credentials.credentials)
        if agent is None:
            raise ApiError(401, "invalid_token", "the bearer token is not a valid agent token")
        return agent, hash_token(credentials.credentials)

    async def bearer_of(request: Request) -> Agent | None:
        """The agent of a bearer token sent along with the stream ticket (a CLI may), which
        must then be the ticket's agent. Read from the header itself: the operation's
        security is the stream ticket alone."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        agent = await agents.authenticate(token.strip())
        if agent is None:
            raise ApiError(401, "invalid_token", "the bearer token is not a valid agent token")
        return agent

    @router.post(
        "/stream-ticket",
        status_code=201,
        responses={401: {"description": "Missing or invalid token"}},
    )
    async def create_stream_ticket(
        signed: Annotated[tuple[Agent, str], Depends(signed_in)],
    ) -> StreamTicketView:
        """A stream ticket for `GET /v1/agents/me/stream`: random, valid for
        `HUMAN_QUEUE_LIVE_TICKET_TTL_S` seconds (30), good for one stream, bound to you and to
        the token you sent."""
        agent, token_hash = signed
        issued = await live.access.issue(agent, token_hash=token_hash)
        return StreamTicketView(ticket=issued.ticket, expires_at=issued.expires_at)

    @router.get(
        "/stream",
        response_class=EventStreamResponse,
        responses={
            200: {
                "description": STREAM_DESCRIPTION,
                # Each event, as SSE clients (and the API fuzzing) read it: its name, and
                # its data, one line of JSON described above.
                "content": {"text/event-stream": {"schema": EVENT_SCHEMA}},
            },
            **ERRORS,
        },
    )
    async def stream_changes(request: Request, ticket: StreamTicketParam) -> EventStreamResponse:
        """Changes of the tickets you may see and hold, pushed as they happen (server-sent
        events), instead of polling. Authenticate with a stream ticket in `?ticket=`."""
        agent, token_hash = await live.access.redeem(ticket, caller=await bearer_of(request))
        stream = live.hub.open(agent, token_hash=token_hash)
        return EventStreamResponse(
            events(live, stream),
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            # Also when the response never started (the generator's own finally then never
            # runs): the stream's place is given back either way; closing twice is harmless.
            background=BackgroundTask(live.hub.close, stream),
        )

    return router


async def events(live: Live, stream: Stream) -> AsyncIterator[bytes]:
    """The stream's bytes until it ends (max age, agent revoked) or the client goes away
    (Starlette then cancels this generator)."""
    settings = live.settings
    loop = asyncio.get_running_loop()
    started = loop.time()
    end_at = started + settings.max_stream_s
    next_recheck = started + settings.recheck_s
    last_sent = started
    try:
        yield sse(
            "ready",
            {
                "agent_id": stream.agent.agent_id,
                "stream_id": stream.stream_id,
                "keepalive_s": settings.keepalive_s,
            },
        )
        _, versions = await live.recheck.missed(stream, None, live.feed.high_water)
        while True:
            now = loop.time()
            if now >= end_at:
                yield sse("end", {"reason": "reconnect"})
                return
            if now >= next_recheck:
                next_recheck = now + settings.recheck_s
                if not await live.access.still_allowed(stream):
                    yield sse("end", {"reason": "revoked"})
                    return
                missed, versions = await live.recheck.missed(stream, versions, live.feed.high_water)
                if missed:
                    stream.offer(Resync("recheck"))
            wait = min(settings.keepalive_s, next_recheck - now, end_at - now)
            event = await stream.next(max(wait, 0.0))
            if event is not None:
                yield encode(event)
                last_sent = loop.time()
            elif loop.time() - last_sent >= settings.keepalive_s:
                yield KEEP_ALIVE
                last_sent = loop.time()
    finally:
        live.hub.close(stream)
