"""Model calls in flight at once are bounded; the others wait for a slot."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import openai

from baton_ai_responder.llm import OpenAIChatModel

REPLY = '{"reply": "hi", "confidence": 0.9, "requires_human": false, "reason": null}'


class SlowClient:
    """Answers only once released; counts how many calls wait at the same time."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most_in_flight = 0
        self.release = asyncio.Event()

    async def post(self, path: str, **_: Any) -> Any:
        assert path == "/chat/completions"
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self.release.wait()
        finally:
            self.in_flight -= 1
        message = SimpleNamespace(content=REPLY, tool_calls=None)
        return SimpleNamespace(
            model="m",
            choices=[SimpleNamespace(message=message)],
            usage=SimpleNamespace(prompt_tokens=1, completion_tokens=1),
        )


async def test_at_most_max_concurrent_calls_are_in_flight() -> None:
    completions = SlowClient()
    model = OpenAIChatModel(cast(openai.AsyncOpenAI, completions), model="m", max_concurrent=3)
    calls = [asyncio.create_task(model.complete([], [])) for _ in range(10)]
    for _ in range(50):  # let every task reach its call or the wait for a slot
        await asyncio.sleep(0)
    assert completions.in_flight == 3
    completions.release.set()
    done = await asyncio.wait_for(asyncio.gather(*calls), timeout=10)
    assert [c.reply.reply if c.reply else None for c in done] == ["hi"] * 10
    assert completions.most_in_flight == 3
