"""Measured phases on one running system: load driven over HTTP, its replies watched on
Kafka, and what each process spent on it."""

from __future__ import annotations

import math
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from baton_testkit import FAQ_TEXT, Observed, System, drive, new_threads, watch_replies

from .accounting import commands_per_message, cpu_use, mongo_commands, processes
from .latency import pipeline_figures, without_model
from .profiling import start_profilers
from .stored import Mongo, model_seconds, stored_times


@dataclass
class Phase:
    """What one measured phase saw."""

    observed: Observed
    figures: dict[str, Any]
    """:func:`pipeline_figures` of what was observed."""
    cpu: dict[str, float]
    commands: dict[str, Any]

    def results(self) -> dict[str, Any]:
        """The phase's entries in ``bench.json``."""
        return {
            **{k: v for k, v in self.figures.items() if k != "latencies_ms"},
            "cpu_share_of_one_core": self.cpu,
            "mongo_commands_per_message": self.commands,
        }


@dataclass
class Measure:
    """Measured phases on one running system, with a client of its ingest."""

    client: aiohttp.ClientSession
    system: System
    mongo: Mongo
    out: Path
    """Where results go (profiles under ``profiles/``)."""
    profile: bool = False
    threads: list[str] = field(default_factory=list)
    """The conversations opened so far, reused from phase to phase."""

    @property
    def prefix(self) -> str:
        """The run's topic prefix."""
        return f"{self.system.namespace}."

    async def conversations(self, count: int) -> list[str]:
        """The first ``count`` conversations, opening those missing."""
        if len(self.threads) < count:
            self.threads += await new_threads(self.client, count - len(self.threads))
        return self.threads[:count]

    async def spread(self, rate: float, gap: float) -> list[str]:
        """Enough conversations for ``rate`` msg/s round-robin with each conversation's next
        message ``gap`` seconds after its previous one."""
        return await self.conversations(max(1, math.ceil(rate * gap)))

    async def new_conversations(self, count: int) -> list[str]:
        """``count`` conversations of their own, not reused by later phases."""
        return await new_threads(self.client, count)

    async def phase(
        self,
        *,
        seconds: float,
        rate: float | None,
        name: str,
        threads: list[str],
        text: str = FAQ_TEXT,
        within: float | None = None,
    ) -> Phase:
        """Drive ``seconds`` of load at ``rate`` (None: full speed) on ``threads`` and wait for
        the replies (at most ``within`` seconds after the load, if given), while watching
        the replies, timing each process's CPU, counting each service's MongoDB commands
        and, with ``profile``, sampling the services into ``profiles/``
        (``profiles/<name>/`` for phases other than the throughput)."""
        stack = self.system.stack
        pids = processes(self.system, stack)
        servers = ("kafka", stack.mongo_server, "scripted-model")
        out = self.out / "profiles"
        out = out if name == "throughput" else out / name
        async with watch_replies(stack.kafka, self.prefix) as observed:
            profilers = (
                start_profilers(pids, seconds, skip=servers, out=out) if self.profile else []
            )
            before = await mongo_commands(self.system)
            with cpu_use(pids) as cpu:
                await drive(
                    self.client,
                    threads,
                    observed.accepted_at,
                    seconds=seconds,
                    rate=rate,
                    text=text,
                )
                await observed.wait_answered(within=within)
            after = await mongo_commands(self.system)
        for profiler in profilers:
            profiler.wait()
        await stored_times(self.mongo, self.system.namespace, observed)
        figures = pipeline_figures(observed)
        return Phase(
            observed, figures, cpu, commands_per_message(before, after, figures["accepted"])
        )

    async def warm_up(
        self,
        *,
        seconds: float,
        rate: float | None,
        threads: list[str],
        within: float | None = None,
    ) -> int:
        """Unmeasured load at ``rate`` (None: full speed) until all is answered (or for at
        most ``within`` seconds after the load, if given); how many were not."""
        async with watch_replies(self.system.stack.kafka, self.prefix) as observed:
            await drive(self.client, threads, observed.accepted_at, seconds=seconds, rate=rate)
            await observed.wait_answered(within=within)
        return len(observed.unanswered())

    async def model_seconds(self, observed: Observed) -> dict[uuid.UUID, float]:
        """User message -> the model time of its reply."""
        return await model_seconds(self.mongo, self.system.namespace, observed)

    async def at_rate(
        self, rate: float, *, seconds: float, warmup: float, threads: list[str], name: str
    ) -> tuple[Phase, dict[str, Any]]:
        """The latency at ``rate``, after ``warmup`` seconds unmeasured at that rate (a steady
        trickle runs other code paths than a flood: batches of one, fetches that wait; the
        JVMs compile those too). Returns the phase and its entries in ``bench.json``."""
        if warmup > 0:
            print(f"    warm-up at {rate:.1f} msg/s, {warmup:.0f} s ...", file=sys.stderr)
            await self.warm_up(seconds=warmup, rate=rate, threads=threads)
        print(f"    latency at {rate:.1f} msg/s ...", file=sys.stderr)
        # At a fixed rate most batches hold one record: the CPU and the commands per
        # message differ from the throughput phase.
        phase = await self.phase(seconds=seconds, rate=rate, name=name, threads=threads)
        model = await self.model_seconds(phase.observed)
        return phase, {
            "rate_per_second": rate,
            **phase.results(),
            "latency_without_model_ms": without_model(phase.observed, model),
        }
