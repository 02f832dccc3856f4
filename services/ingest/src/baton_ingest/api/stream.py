"""The gateways' live route: a thread's replies as server-sent events.

No ``from __future__ import annotations`` here: FastAPI reads the routes' annotations.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from ..front import Front
from ..gateways import Gateway
from ..live import KEEP_ALIVE, Live, Stream
from .auth import Auth
from .threads import ERRORS, UNKNOWN_THREAD, ThreadId

STREAM_DESCRIPTION = """\
Server-sent events of the thread (`text/event-stream`), from the moment it opens:

- `delta`, `id: <message_id>:<sequence>`: `{"message_id", "in_reply_to", "sequence", "text",
  "agent_name"}`, a piece of a reply the AI is still writing. Append the pieces of a
  `message_id` in `sequence` order; a `sequence` 0 again starts the reply over.
- `message`, `id: <message_id>`: `{"message_id", "in_reply_to", "text", "agent_name",
  "provider", "notice"}`, a message whole (the `message.sent` event): it replaces whatever
  was streamed under its `message_id`, and is what counts.

Comment lines (`: keep-alive`) come when nothing else did for a while. The stream ends after
`INGEST_LIVE_MAX_STREAM_S`, or when its reader falls too far behind: open it again, then
read the thread's messages for what went by meanwhile."""

EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {
        "event": {"type": "string", "enum": ["delta", "message"]},
        "id": {"type": "string"},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"


def stream_router(auth: Auth, front: Front, live: Live) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["threads"], responses=ERRORS)
    CurrentGateway = Annotated[Gateway, Depends(auth.gateway)]  # noqa: N806 - a type alias

    @router.get(
        "/threads/{thread_id}/stream",
        response_class=EventStreamResponse,
        responses={
            200: {
                "description": STREAM_DESCRIPTION,
                "content": {"text/event-stream": {"schema": EVENT_SCHEMA}},
            },
            **UNKNOWN_THREAD,
            429: {
                "description": "Rate limited (`rate_limited`), or too many streams open "
                "(`too_many_streams`, for the thread or on this instance)"
            },
        },
    )
    async def stream_thread(gateway: CurrentGateway, thread_id: ThreadId) -> EventStreamResponse:
        """The thread's replies as they are written and sent (server-sent events), instead
        of polling its messages. Open it first, then read the messages, so nothing said in
        between is missed (a message may then come twice: show each `message_id` once)."""
        thread = await front.thread(gateway, thread_id)
        stream = live.hub.open(thread.thread_id)
        return EventStreamResponse(
            events(live, stream),
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            # Also when the response never started (the generator's own finally then never
            # runs): the stream's place is given back either way; closing twice is harmless.
            background=BackgroundTask(live.hub.close, stream),
        )

    return router


async def events(live: Live, stream: Stream) -> AsyncIterator[bytes]:
    """The stream's bytes until it ends (its age, a reader too far behind, the instance
    stopping) or the client goes away (Starlette then cancels this generator)."""
    settings = live.settings
    loop = asyncio.get_running_loop()
    end_at = loop.time() + settings.max_stream_s
    try:
        while not stream.ended:
            left = end_at - loop.time()
            if left <= 0:
                return
            chunk = await stream.next(min(settings.keepalive_s, left))
            if chunk:
                yield chunk
            elif not stream.ended and end_at > loop.time():
                yield KEEP_ALIVE
    finally:
        live.hub.close(stream)
