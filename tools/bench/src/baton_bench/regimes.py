"""The regimes a run measures, each on a system of its own: a model that answers at once,
one that always takes the same time, and one as slow as a real model."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from baton_testkit import LocalStack, System, new_namespace

from .accounting import TIMEOUT, cpu_ms_per_message
from .claims import claims
from .latency import latency_by_rate
from .memory import peak_memory_mb
from .model import ModelLatency, added_latency, head_of_line, model_throughput
from .phases import Measure
from .stored import Mongo

OVERRIDES = {
    "LOG_LEVEL": "WARNING",
    "ESCALATION_LIMIT_PER_USER": "1000000",
    "ESCALATION_LIMIT_PER_THREAD": "1000000",
    # One gateway drives the whole load, all its conversations for one end user.
    "INGEST_RATE_LIMIT_KEY_RPS": "1000000",
    "INGEST_RATE_LIMIT_KEY_BURST": "1000000",
    "INGEST_RATE_LIMIT_USER_RPS": "1000000",
    "INGEST_RATE_LIMIT_USER_BURST": "1000000",
    # Beyond the slowest call the lognormal model draws in a run, and the slow calls.
    "AI_RESPONDER_LLM_TIMEOUT_S": "120",
}


def say(text: str) -> None:
    print(text, file=sys.stderr)


@asynccontextmanager
async def running(
    stack: LocalStack,
    mongo: Mongo,
    args: argparse.Namespace,
    *,
    regime: str,
    overrides: Mapping[str, str] | None = None,
) -> AsyncIterator[Measure]:
    """The services and the scripted model on a namespace (topics and database) of their
    own, so that nothing one regime left behind slows the next; gone afterwards."""
    namespace = new_namespace("b")
    system = System(
        stack,
        namespace,
        logs=args.out / "logs" / regime,
        overrides={**OVERRIDES, **(overrides or {})},
    )
    try:
        await system.start_all()
        async with aiohttp.ClientSession(
            base_url=system.programs["ingest"].url, timeout=TIMEOUT, headers=system.ingest_headers
        ) as client:
            # Sampled only without model latency: the model-latency phases measure waits.
            profile = args.profile and regime == "zero-latency"
            yield Measure(client, system, mongo, args.out, profile=profile)
    finally:
        await system.stop_all()
        # The run's data goes with it: the bench stack's store stays small from run to run.
        await mongo.drop_database(namespace)


async def zero_latency(
    stack: LocalStack,
    mongo: Mongo,
    args: argparse.Namespace,
    results: dict[str, Any],
    raw: dict[str, Sequence[float]],
) -> None:
    """Throughput, latency by rate, claims and memory with a model that answers at once."""
    phases = args.phases
    async with running(stack, mongo, args, regime="zero-latency") as measure:
        threads = await measure.conversations(args.threads)
        if args.warmup > 0 and phases & {"throughput", "latency"}:
            # Unmeasured: the JVMs compile their hot paths, the services fill their caches.
            say(f"warm-up, {args.warmup:.0f} s ...")
            await measure.warm_up(seconds=args.warmup, rate=None, threads=threads)
        # What lives on (the libraries, the clients, the threads) is frozen out of the
        # collector's reach, as the services do: full collections in this process, which
        # both drives the load and watches for replies, would pause both.
        gc.collect()
        gc.freeze()
        sustained: float | None = None
        if "throughput" in phases:
            say("pipeline throughput ...")
            full = await measure.phase(
                seconds=args.seconds, rate=None, name="throughput", threads=threads
            )
            sustained = full.figures["per_second"]
            results["pipeline"] = full.results()
            if "baseline" in results:
                results["pipeline"]["ratio_to_baseline"] = (
                    sustained / results["baseline"]["per_second"]
                )
        if "latency" in phases:
            # Half the sustained rate, unless another rate is asked for (--latency-rate).
            half = args.latency_rate or max(1.0, (sustained or 2.0) / 2)
            talk = threads
            if args.latency_conversations:
                talk = await measure.new_conversations(args.latency_conversations)
            say(f"latency at {half:.1f} msg/s and at lower rates ...")
            trickle, results["latency_at_half_load"] = await measure.at_rate(
                half, seconds=args.seconds, warmup=args.half_warmup, threads=talk, name="half-load"
            )
            raw["half_load"] = trickle.figures["latencies_ms"]
            # Lower rates, highest first, each after a shorter warm-up of its own: where the
            # latency target holds on this machine.
            curve = [results["latency_at_half_load"]]
            for fraction in args.curve if sustained else ():
                _, point = await measure.at_rate(
                    max(1.0, sustained * fraction),
                    seconds=args.seconds,
                    warmup=args.curve_warmup,
                    threads=talk,
                    name=f"at-{fraction:g}",
                )
                curve.append(point)
            results["latency_by_rate"] = latency_by_rate(curve, sustained or half * 2)
            if args.lone_rate:
                # A steady trickle: what one message costs each process when nothing shares
                # a command or a poll with it.
                lone, point = await measure.at_rate(
                    args.lone_rate,
                    seconds=args.seconds,
                    warmup=args.curve_warmup,
                    threads=talk,
                    name="lone",
                )
                results["lone_message"] = {
                    **point,
                    "cpu_ms_per_message": cpu_ms_per_message(lone.cpu, args.lone_rate),
                }
        if "claims" in phases:
            say("claims ...")
            results["claims"] = {
                str(n): await claims(
                    measure.system, mongo, measure.system.namespace, n, args.tickets
                )
                for n in (10, 50)
            }
        if "memory" in phases:
            results["peak_memory_mb"] = peak_memory_mb(measure.system)


def model_overrides(model: ModelLatency, args: argparse.Namespace) -> dict[str, str]:
    return {
        **model.env(),
        "AI_RESPONDER_LLM_MAX_CONCURRENT": str(args.llm_max_concurrent),
    }


async def fixed_model(
    stack: LocalStack, mongo: Mongo, args: argparse.Namespace, results: dict[str, Any]
) -> None:
    """The sustained rate with a model that always takes ``--fixed-model-ms``, offered the
    zero-latency sustained rate (or ``--model-offer-rate``)."""
    sustained = results.get("pipeline", {}).get("per_second")
    offered = args.model_offer_rate or sustained
    model = ModelLatency(fixed_ms=args.fixed_model_ms)
    say(f"throughput with a {args.fixed_model_ms} ms model ...")
    overrides = model_overrides(model, args)
    async with running(stack, mongo, args, regime="fixed-model", overrides=overrides) as measure:
        left = await warm_up_model(measure, model, args)
        figures = await model_throughput(
            measure, model, offered, seconds=args.seconds, within=args.model_patience
        )
    results.setdefault("model_latency", {})["throughput_with_fixed_model"] = {
        "model": model.describe(),
        "llm_max_concurrent": args.llm_max_concurrent,
        **figures,
        "ratio_to_zero_latency": figures["per_second"] / sustained if sustained else None,
        "warm_up_unanswered": left,
    }


async def lognormal_model(
    stack: LocalStack,
    mongo: Mongo,
    args: argparse.Namespace,
    results: dict[str, Any],
    raw: dict[str, Sequence[float]],
) -> None:
    """Head-of-line and added latency with every call's latency drawn from a lognormal."""
    model = ModelLatency(median_ms=args.model_median_ms, p99_ms=args.model_p99_ms, seed=args.seed)
    found = results.setdefault("model_latency", {})
    overrides = model_overrides(model, args)
    async with running(stack, mongo, args, regime="lognormal", overrides=overrides) as measure:
        found["lognormal_warm_up_unanswered"] = await warm_up_model(measure, model, args)
        gc.collect()
        gc.freeze()
        if "head-of-line" in args.phases:
            # First in the regime: no backlog of an earlier phase is in its way.
            say(f"head-of-line: {args.slow_calls} calls of {args.slow_call_ms} ms ...")
            hol = await head_of_line(
                measure,
                slow_calls=args.slow_calls,
                slow_ms=args.slow_call_ms,
                rate=args.hol_rate,
                within=args.model_patience,
            )
            raw["head_of_line"] = hol.pop("ordinary_added_ms")
            found["head_of_line"] = {"model": model.describe(), **hol}
        if "added-latency" in args.phases:
            found["added_latency_at_fixed_rate"] = {
                "model": model.describe(),
                "llm_max_concurrent": args.llm_max_concurrent,
                **await added_latency(
                    measure,
                    model,
                    args.added_rate,
                    seconds=args.seconds,
                    name="added-fixed-rate",
                    within=args.model_patience,
                ),
            }
            held, source = held_rate(args, found)
            if held is None:
                say("no held rate (no model throughput phase, no --held-rate): skipped")
            else:
                found["added_latency_at_held_rate"] = {
                    "model": model.describe(),
                    "llm_max_concurrent": args.llm_max_concurrent,
                    "rate_from": source,
                    **await added_latency(
                        measure,
                        model,
                        held,
                        seconds=args.seconds,
                        name="added-held-rate",
                        within=args.model_patience,
                    ),
                }


def held_rate(args: argparse.Namespace, found: dict[str, Any]) -> tuple[float | None, str]:
    """The highest rate the pipeline holds with a slow model: ``--held-rate``, else
    ``--held-fraction`` of the rate it sustained with the fixed model."""
    if args.held_rate:
        return args.held_rate, "--held-rate"
    fixed = found.get("throughput_with_fixed_model")
    if not fixed:
        return None, ""
    fraction = args.held_fraction
    return max(1.0, fixed["per_second"] * fraction), f"{fraction:g} x the fixed model's rate"


async def warm_up_model(measure: Measure, model: ModelLatency, args: argparse.Namespace) -> int:
    """Unmeasured: the new service processes' first calls, at the fixed rate. Returns how
    many of its messages were still unanswered when the wait for them ended (they are in
    the way of the first measured phase)."""
    if args.model_warmup <= 0:
        return 0
    say(f"    warm-up at {args.added_rate:g} msg/s, {args.model_warmup:.0f} s ...")
    threads = await measure.spread(args.added_rate, model.gap_s())
    left = await measure.warm_up(
        seconds=args.model_warmup,
        rate=args.added_rate,
        threads=threads,
        within=args.model_patience,
    )
    if left:
        say(f"    {left} warm-up messages still unanswered after {args.model_patience:.0f} s")
    return left
