"""Load as gateways make it: conversations opened and user messages posted to ingest.

One HTTP client for all of it, aiohttp: its per-request cost is lower than httpx's, and the
load generator shares the machine's cores with the pipeline it measures.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

FAQ_TEXT = "What are your opening hours?"
"""A question the scripted model's defaults answer at once, with no person involved."""
PEOPLE_TEXT = "I want to talk to a human, please."
"""A message the router's default rules give to people."""
APPROVAL_TEXT = "Can I get a refund for the shoes I bought?"
"""A question the scripted model's defaults answer at once with a reply about refunds: held
for a person's approval by an ai-responder whose approval topics include ``refund``."""


async def new_threads(
    client: aiohttp.ClientSession, count: int, *, user_id: str = "load", parallel: int = 8
) -> list[str]:
    """Open ``count`` conversations (``parallel`` requests at a time); their ids, in order.
    ``client`` sends a gateway key, as for every request to ingest."""
    gate = asyncio.Semaphore(parallel)

    async def one() -> str:
        async with (
            gate,
            client.post("/v1/threads", json={"user_id": user_id, "channel": "web"}) as response,
        ):
            response.raise_for_status()
            thread_id: str = (await response.json())["thread_id"]
            return thread_id

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def post_message(
    client: aiohttp.ClientSession, thread_id: str, text: str, *, key: str | None = None
) -> uuid.UUID | None:
    """Post one user message; its id once ingest has accepted it (202), else None."""
    headers = {"Idempotency-Key": key} if key is not None else None
    async with client.post(
        f"/v1/threads/{thread_id}/messages", json={"text": text}, headers=headers
    ) as response:
        if response.status != 202:
            return None
        return uuid.UUID((await response.json())["message_id"])


async def open_loop(
    rate: float, seconds: float, start: Callable[[int], Coroutine[Any, Any, None]]
) -> None:
    """Start ``start(0)``, ``start(1)``, ... at ``rate`` per second for ``seconds``, each on
    its own task whether or not the earlier ones have finished; then wait for them all."""
    loop = asyncio.get_running_loop()
    tasks = []
    index, next_at = 0, loop.time()
    stop_at = next_at + seconds
    while loop.time() < stop_at:
        tasks.append(asyncio.create_task(start(index)))
        index += 1
        next_at += 1 / rate
        await asyncio.sleep(max(0.0, next_at - loop.time()))
    await asyncio.gather(*tasks)


async def drive(
    client: aiohttp.ClientSession,
    threads: Sequence[str],
    accepted_at: MutableMapping[uuid.UUID, float],
    *,
    seconds: float,
    rate: float | None,
    text: str = FAQ_TEXT,
) -> None:
    """Post ``text`` for ``seconds``: on every thread as fast as ingest accepts (rate None),
    or open-loop at ``rate``, round-robin over ``threads``. Notes when each accepted
    message was sent (wall clock, as a gateway would stamp it) in ``accepted_at``."""
    loop = asyncio.get_running_loop()
    stop_at = loop.time() + seconds

    async def post(thread_id: str) -> None:
        started = time.time()
        message_id = await post_message(client, thread_id, text)
        if message_id is not None:
            accepted_at[message_id] = started

    if rate is None:

        async def closed(thread_id: str) -> None:
            while loop.time() < stop_at:
                await post(thread_id)
                await asyncio.sleep(0)

        await asyncio.gather(*(closed(t) for t in threads))
    else:
        await open_loop(rate, seconds, lambda i: post(threads[i % len(threads)]))


@dataclass(frozen=True)
class Accepted:
    message_id: uuid.UUID
    thread_id: str
    index: int
    to_people: bool = False
    """Posted on one of the load's ``people`` threads."""
    to_approve: bool = False
    """Posted on one of the load's ``approvals`` threads: the AI's reply is a draft."""


@dataclass
class Load:
    """``threads`` gateway conversations, each posting one message every ``interval_s``.

    Like a real gateway, a post that fails (service down, timeout) is retried with the same
    Idempotency-Key until accepted, so a message counts as accepted exactly once.

    The users of the ``people`` threads want a person: thread ``i`` posts ``people_texts[i %
    len(people_texts)]`` and, as someone waiting for an answer would, posts again only once
    ``answered`` returns for the accepted message (a person replied and closed the ticket),
    or after ``patience_s`` (counted in ``impatient``).

    The users of the ``approvals`` threads post ``approval_text``, whose reply the AI holds
    as a draft for a person's approval; they too wait for ``answered`` (the draft approved)
    before they post again.
    """

    ingest_url: str
    threads: list[str]
    interval_s: float
    gateway_key: str = ""
    """The key of the gateway that opened ``threads``."""
    text: str = FAQ_TEXT
    people: list[str] = field(default_factory=list)
    """Threads whose users want a person (see above)."""
    people_texts: Sequence[str] = (PEOPLE_TEXT,)
    approvals: list[str] = field(default_factory=list)
    """Threads whose replies people approve (see above)."""
    approval_text: str = APPROVAL_TEXT
    answered: Callable[[uuid.UUID], Awaitable[None]] | None = None
    patience_s: float = 60.0
    accepted: list[Accepted] = field(default_factory=list)
    abandoned: int = 0
    impatient: int = 0

    async def run(self, duration_s: float) -> None:
        stop = asyncio.get_running_loop().time() + duration_s
        async with aiohttp.ClientSession(
            base_url=self.ingest_url,
            timeout=aiohttp.ClientTimeout(total=5),
            headers={"Authorization": f"Bearer {self.gateway_key}"},
        ) as client:
            await asyncio.gather(
                *(self._thread(client, t, stop, self.text) for t in self.threads),
                *(
                    self._thread(client, t, stop, self.people_texts[i % len(self.people_texts)])
                    for i, t in enumerate(self.people)
                ),
                *(self._thread(client, t, stop, self.approval_text) for t in self.approvals),
            )

    async def _thread(
        self, client: aiohttp.ClientSession, thread_id: str, stop: float, base_text: str
    ) -> None:
        loop = asyncio.get_running_loop()
        to_people = thread_id in self.people
        to_approve = thread_id in self.approvals
        index = 0
        while loop.time() < stop:
            key = f"{thread_id}-{index}"
            give_up = loop.time() + 90
            accepted: Accepted | None = None
            while True:
                try:
                    text = f"{base_text} ({key})"
                    message_id = await post_message(client, thread_id, text, key=key)
                    if message_id is not None:
                        accepted = Accepted(message_id, thread_id, index, to_people, to_approve)
                        self.accepted.append(accepted)
                        break
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if loop.time() > give_up:
                    self.abandoned += 1
                    break
                await asyncio.sleep(0.25)
            waits = to_people or to_approve
            if waits and accepted is not None and self.answered is not None:
                try:
                    await asyncio.wait_for(self.answered(accepted.message_id), self.patience_s)
                except TimeoutError:
                    self.impatient += 1
            index += 1
            await asyncio.sleep(self.interval_s)
