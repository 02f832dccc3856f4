"""Reading the human queue's live stream (server-sent events) in tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from .queue import AgentClient

STREAM = "/v1/agents/me/stream"
STREAM_TICKET = "/v1/agents/me/stream-ticket"


@dataclass(frozen=True)
class Sse:
    event: str
    data: dict[str, Any]


@dataclass
class EventLog:
    """Every event a stream delivered, in order, and a way to wait for one."""

    events: list[Sse] = field(default_factory=list)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    closed: bool = False

    async def add(self, event: Sse | None) -> None:
        async with self._arrived:
            if event is None:
                self.closed = True
            else:
                self.events.append(event)
            self._arrived.notify_all()

    async def wait_for(
        self, match: Callable[[Sse], bool], *, timeout: float = 30.0, what: str = "an event"
    ) -> Sse:
        async def found() -> Sse:
            async with self._arrived:
                while True:
                    for event in self.events:
                        if match(event):
                            return event
                    if self.closed:
                        raise AssertionError(f"the stream ended before {what}: {self.events}")
                    await self._arrived.wait()

        try:
            return await asyncio.wait_for(found(), timeout)
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout} s; got {self.events}") from None

    def about(self, ticket_id: str) -> list[Sse]:
        return [e for e in self.events if e.event == "ticket" and e.data["ticket_id"] == ticket_id]


def ticket_event(ticket_id: str | None = None, **fields: Any) -> Callable[[Sse], bool]:
    def match(event: Sse) -> bool:
        if event.event != "ticket":
            return False
        if ticket_id is not None and event.data["ticket_id"] != ticket_id:
            return False
        return all(event.data.get(k) == v for k, v in fields.items())

    return match


async def stream_ticket(agent: AgentClient) -> str:
    response = await agent.post(STREAM_TICKET)
    assert response.status_code == 201, response.text
    ticket: str = response.json()["ticket"]
    return ticket


async def _read(response: httpx.Response, log: EventLog) -> None:
    event, data = "message", ""
    try:
        async for line in response.aiter_lines():
            if line.startswith(":"):
                continue
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data += line[len("data: ") :]
            elif line == "" and data:
                await log.add(Sse(event, json.loads(data)))
                event, data = "message", ""
    except httpx.HTTPError:
        pass  # the server went away: the log says the stream ended
    finally:
        await log.add(None)


@asynccontextmanager
async def live_stream(
    agent: AgentClient, *, base_url: str | None = None
) -> AsyncIterator[EventLog]:
    """The agent's stream, open until the block ends; it has said ``ready`` when yielded."""
    ticket = await stream_ticket(agent)
    url = f"{base_url or agent.http.base_url}".rstrip("/") + STREAM
    log = EventLog()
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10, read=None)) as http,
        http.stream("GET", url, params={"ticket": ticket}) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = asyncio.create_task(_read(response, log))
        try:
            await log.wait_for(lambda e: e.event == "ready", what="ready")
            yield log
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
