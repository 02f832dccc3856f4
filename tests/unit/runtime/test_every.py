"""Background loops: a failing round does not end the loop; ``at_start`` runs one at once."""

from __future__ import annotations

import asyncio
import contextlib

from baton_runtime import every


async def rounds_until(loop_task: asyncio.Task[None], done: asyncio.Event) -> None:
    try:
        await asyncio.wait_for(done.wait(), timeout=10)
    finally:
        loop_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop_task


async def test_a_failing_round_is_followed_by_the_next() -> None:
    calls = 0
    done = asyncio.Event()

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            done.set()
        raise RuntimeError("this round fails")

    await rounds_until(asyncio.create_task(every(0.001, step, what="test")()), done)
    assert calls >= 3


async def test_at_start_runs_a_round_before_the_first_interval() -> None:
    ran = asyncio.Event()

    async def step() -> None:
        ran.set()

    # With an hour's interval only the round at start can have run.
    await rounds_until(asyncio.create_task(every(3600, step, what="t", at_start=True)()), ran)
    assert ran.is_set()


async def test_without_at_start_the_first_round_waits_an_interval() -> None:
    ran = asyncio.Event()

    async def step() -> None:
        ran.set()

    task = asyncio.create_task(every(3600, step, what="t")())
    for _ in range(20):
        await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert not ran.is_set()
