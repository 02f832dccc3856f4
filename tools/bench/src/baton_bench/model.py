"""The model-latency regime: the scripted model as slow as a real one.

Real model calls take from a few hundred milliseconds to many seconds, with a heavy tail.
What the pipeline adds to that is what it must keep small: each reply's latency less its
own model call (the ai-responder stores the call's duration with the reply). Three
measures, each on conversations that hold one message in flight at a time, so that no
reply waits for an earlier one of its own conversation (that wait is order, not a cost):

- the added latency at a fixed rate, with every call's latency drawn from a lognormal;
- head-of-line: a few calls of many seconds in flight while ordinary traffic flows, and
  how much the ordinary replies are held up by them;
- the sustained rate with a fixed one-second model, against the zero-latency rate.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp

from baton_scripted_model import LognormalLatency
from baton_testkit import FAQ_TEXT, open_loop, post_message, watch_replies

from .accounting import TIMEOUT
from .latency import added_seconds, pipeline_figures, without_model
from .phases import Measure
from .stats import percentile, percentiles_ms

SLOW_RULE = "bench-slow-call"
"""The scripted model's rule that gives the head-of-line phase's slow calls their latency."""


@dataclass(frozen=True)
class ModelLatency:
    """How long the scripted model takes in this regime: a lognormal (median and p99) or,
    without one, a fixed latency."""

    fixed_ms: int = 0
    median_ms: float | None = None
    p99_ms: float | None = None
    seed: int | None = None

    def env(self) -> dict[str, str]:
        """The scripted model's settings for it (``SCRIPTED_MODEL_*``)."""
        env = {"SCRIPTED_MODEL_LATENCY_MS": str(self.fixed_ms)}
        if self.median_ms is not None and self.p99_ms is not None:
            env |= {
                "SCRIPTED_MODEL_LATENCY_MEDIAN_MS": str(self.median_ms),
                "SCRIPTED_MODEL_LATENCY_P99_MS": str(self.p99_ms),
            }
            if self.seed is not None:
                env["SCRIPTED_MODEL_LATENCY_SEED"] = str(self.seed)
        return env

    def gap_s(self) -> float:
        """How long a conversation waits before its next message: past nearly every call's
        latency (three times a fixed one, a lognormal's p99.9), so that the load seldom
        sends a message while its conversation's previous one is still being answered."""
        if self.median_ms is not None and self.p99_ms is not None:
            drawn = LognormalLatency(self.median_ms, self.p99_ms).quantile_ms(0.999)
            return (self.fixed_ms + drawn) / 1000
        return max(1.0, 3 * self.fixed_ms / 1000)

    def describe(self) -> dict[str, Any]:
        return {
            "fixed_ms": self.fixed_ms,
            "lognormal_median_ms": self.median_ms,
            "lognormal_p99_ms": self.p99_ms,
            "seed": self.seed,
        }


async def added_latency(
    measure: Measure, model: ModelLatency, rate: float, *, seconds: float, name: str, within: float
) -> dict[str, Any]:
    """The latency the pipeline adds to each reply's model call at ``rate`` msg/s."""
    threads = await measure.spread(rate, model.gap_s())
    print(f"    added latency at {rate:.1f} msg/s ...", file=sys.stderr)
    phase = await measure.phase(
        seconds=seconds, rate=rate, name=name, threads=threads, within=within
    )
    model_time = await measure.model_seconds(phase.observed)
    return {
        "rate_per_second": rate,
        "conversations": len(threads),
        **phase.results(),
        "latency_without_model_ms": without_model(phase.observed, model_time),
        "model_call_ms": percentiles_ms(list(model_time.values())),
    }


async def model_throughput(
    measure: Measure, model: ModelLatency, rate: float, *, seconds: float, within: float
) -> dict[str, Any]:
    """The rate the pipeline sustains with this model when offered ``rate`` msg/s
    open-loop: replies over the span from the first accept to the last reply. Replies not
    in within ``within`` seconds after the load are ``unanswered`` (the pipeline still
    holds them), not lost."""
    threads = await measure.spread(rate, model.gap_s())
    print(f"    offered {rate:.1f} msg/s on {len(threads)} conversations ...", file=sys.stderr)
    phase = await measure.phase(
        seconds=seconds, rate=rate, name="model-throughput", threads=threads, within=within
    )
    results = phase.results()
    results["unanswered"] = results.pop("lost")
    return {"offered_per_second": rate, "conversations": len(threads), **results}


async def head_of_line(
    measure: Measure,
    *,
    slow_calls: int,
    slow_ms: int,
    rate: float,
    within: float,
) -> dict[str, Any]:
    """``slow_calls`` model calls of ``slow_ms`` each in flight (each on a conversation of
    its own) while ordinary messages flow at ``rate`` msg/s, each on a new conversation,
    until shortly before the slow calls end. The ordinary replies' added latency is how
    long the slow calls held them up."""
    token = f"slow{uuid.uuid4().hex[:10]}"
    model_url = measure.system.programs["scripted-model"].url
    async with aiohttp.ClientSession(base_url=model_url, timeout=TIMEOUT) as model:
        await _script_slow_calls(model, token, slow_ms)
        duration = max(1.0, slow_ms / 1000 - 1.0)
        slow_threads = await measure.new_conversations(slow_calls)
        ordinary_threads = await measure.new_conversations(math.ceil(rate * duration) + 2)
        slow: set[uuid.UUID] = set()
        ordinary: set[uuid.UUID] = set()
        async with watch_replies(measure.system.stack.kafka, measure.prefix) as observed:

            async def post(thread_id: str, text: str, into: set[uuid.UUID]) -> None:
                started = time.time()
                message_id = await post_message(measure.client, thread_id, text)
                if message_id is not None:
                    observed.accepted_at[message_id] = started
                    into.add(message_id)

            await asyncio.gather(*(post(t, f"{FAQ_TEXT} {token}", slow) for t in slow_threads))
            in_flight = await _slow_calls_in_flight(model, slow_calls, timeout=3.0)
            print(
                f"    {in_flight} slow calls in flight; ordinary traffic at {rate:.0f} msg/s ...",
                file=sys.stderr,
            )
            await open_loop(
                rate,
                duration,
                lambda i: post(ordinary_threads[i % len(ordinary_threads)], FAQ_TEXT, ordinary),
            )
            await observed.wait_answered(within=within)
    model_time = await measure.model_seconds(observed)
    return head_of_line_figures(
        observed.sent_at,
        observed.accepted_at,
        added_seconds(observed, model_time, among=list(ordinary)),
        slow=slow,
        ordinary=ordinary,
        slow_in_flight=in_flight,
        settings={"slow_calls": slow_calls, "slow_call_ms": slow_ms, "ordinary_rate": rate},
        figures=pipeline_figures(observed),
    )


def head_of_line_figures(
    sent_at: dict[uuid.UUID, float],
    accepted_at: dict[uuid.UUID, float],
    ordinary_added: dict[uuid.UUID, float],
    *,
    slow: set[uuid.UUID],
    ordinary: set[uuid.UUID],
    slow_in_flight: int,
    settings: dict[str, Any],
    figures: dict[str, Any],
) -> dict[str, Any]:
    """The head-of-line phase's entries in ``bench.json``; ``ordinary_added_ms`` (each
    ordinary reply's added latency) is for the plot."""
    added = list(ordinary_added.values())
    slow_latency = [sent_at[m] - accepted_at[m] for m in slow if m in sent_at]
    return {
        **settings,
        "slow_in_flight_when_ordinary_began": slow_in_flight,
        "slow_replied": len(slow_latency),
        "slow_latency_ms": {"max": max(slow_latency, default=float("nan")) * 1000},
        "ordinary_accepted": len(ordinary),
        "ordinary_replied": sum(1 for m in ordinary if m in sent_at),
        "ordinary_added_latency_ms": {
            "max": max(added, default=float("nan")) * 1000,
            "p50": percentile(added, 50) * 1000,
            "p99": percentile(added, 99) * 1000,
            "replies": len(added),
        },
        "duplicated": figures["duplicated"],
        "repeated_events": figures["repeated_events"],
        "ordinary_added_ms": [x * 1000 for x in added],
    }


async def _script_slow_calls(model: aiohttp.ClientSession, token: str, slow_ms: int) -> None:
    """Give the AI's replies to messages with ``token`` a fixed latency of ``slow_ms``."""
    rule = {
        "name": SLOW_RULE,
        "match": {"last_user": token, "schema": "assistant_reply"},
        "latency_ms": slow_ms,
        "respond": {
            "json": {
                "reply": "Thanks for waiting: we are open from 9 to 17, Monday to Friday.",
                "confidence": 0.9,
                "requires_human": False,
                "reason": None,
            }
        },
    }
    async with model.post("/_script", json=[rule]) as response:
        response.raise_for_status()


async def _slow_calls_in_flight(
    model: aiohttp.ClientSession, wanted: int, *, timeout: float
) -> int:
    """How many slow calls the scripted model holds, once ``wanted`` are or ``timeout``
    seconds have passed (a consumer that takes a partition's records one batch after
    another may never hold them all at once)."""
    deadline = time.monotonic() + timeout
    while True:
        async with model.get("/_calls", params={"rule": SLOW_RULE}) as response:
            calls = (await response.json())["calls"]
        holding = sum(1 for call in calls if call["outcome"] is None)
        if holding >= wanted or time.monotonic() > deadline:
            return holding
        await asyncio.sleep(0.05)
