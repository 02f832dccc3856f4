"""Scaling out: the pipeline with one, then two instances of every service, on the same
topics (partitions enough for both), offered the same load with a model as slow as a real
one.

One system: its topics have ``--scaling-partitions`` partitions and each ai-responder
process may have ``--scaling-llm-max-concurrent`` model calls in flight (the service's
default, 32). First one instance of each service is measured; then a second instance of
each joins its consumer group (and takes half the partitions), and the same load is
measured again. The load goes round-robin to the ingest instances, as a load balancer
spreads it. Every model call's latency is drawn from the seeded lognormal of the model
regimes; conversations wait past nearly every call before their next message.

Each run reports the rate sustained, the latency from ingest's accept to ``message.sent``
(also without the reply's own model call), the CPU seconds each service (all its instances
together), Kafka, the MongoDB server, the scripted model and the bench spent per reply, the
MongoDB commands per reply, and the partitions each instance held. The one-instance run is
the baseline of the two-instance one.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import aiohttp

from baton_testkit import FAQ_TEXT, LocalStack, Observed, open_loop, post_message, watch_replies

from .accounting import (
    TIMEOUT,
    commands_per_message,
    cpu_seconds_of,
    instances,
    mongo_commands,
    partitions_held,
)
from .latency import pipeline_figures, without_model
from .model import ModelLatency
from .phases import Measure
from .regimes import running, say
from .stored import Mongo, stored_times

SERVICES = ("ingest", "router", "ai-responder", "human-queue")
"""The programs scaled out (the scripted model stands for a provider: one of it)."""


async def scaling(
    stack: LocalStack, mongo: Mongo, args: argparse.Namespace, results: dict[str, Any]
) -> None:
    """The scaling phase, on a system of its own."""
    model = ModelLatency(median_ms=args.model_median_ms, p99_ms=args.model_p99_ms, seed=args.seed)
    rate = args.scaling_rate
    overrides = {
        **model.env(),
        "AI_RESPONDER_LLM_MAX_CONCURRENT": str(args.scaling_llm_max_concurrent),
        "KAFKA_TOPIC_PARTITIONS": str(args.scaling_partitions),
    }
    say(f"scaling: 1 and 2 instances of every service at {rate:g} msg/s ...")
    runs: dict[str, dict[str, Any]] = {}
    async with running(stack, mongo, args, regime="scaling", overrides=overrides) as measure:
        threads = await measure.spread(rate, model.gap_s())
        # Unless the zero-latency phases ran first, Kafka's and the MongoDB server's JVMs
        # have not compiled their hot paths yet: the first warm-up is as long as theirs.
        warm = args.phases & {"throughput", "latency"}
        warmup = args.model_warmup if warm else max(args.model_warmup, args.warmup)
        for count in (1, 2):
            if count > 1:
                for service in SERVICES:
                    await measure.system.start(service, extra=True)
                warmup = args.model_warmup
            say(f"    {count} instance(s) of each service, {len(threads)} conversations ...")
            left = await load(measure, threads, rate, warmup, args.model_patience)
            found = await measured(measure, threads, rate, args.seconds, args.model_patience)
            runs[str(count)] = {"instances": count, "warm_up_unanswered": left, **found}
    one, two = runs["1"], runs["2"]
    results["scaling"] = {
        "rate_per_second": rate,
        "partitions": args.scaling_partitions,
        "llm_max_concurrent_per_instance": args.scaling_llm_max_concurrent,
        "model": model.describe(),
        "conversations": len(threads),
        "runs": runs,
        "throughput_ratio": (
            two["replies_per_second_under_load"] / one["replies_per_second_under_load"]
        ),
    }


async def load(
    measure: Measure, threads: Sequence[str], rate: float, seconds: float, within: float
) -> int:
    """Unmeasured load at ``rate`` for ``seconds`` (new instances join their groups and
    warm up meanwhile), until all is answered or ``within`` seconds have passed; how many
    were not."""
    if seconds <= 0:
        return 0
    async with watch_replies(measure.system.stack.kafka, measure.prefix) as observed:
        await offer(measure, threads, observed, rate, seconds)
        await observed.wait_answered(within=within)
    return len(observed.unanswered())


async def measured(
    measure: Measure, threads: Sequence[str], rate: float, seconds: float, within: float
) -> dict[str, Any]:
    """``seconds`` of load at ``rate`` and the wait for its replies, measured."""
    system = measure.system
    pids = instances(system, system.stack)
    async with watch_replies(system.stack.kafka, measure.prefix) as observed:
        before = await mongo_commands(system)
        cpu_before, started = cpu_seconds_of(pids), time.perf_counter()
        await offer(measure, threads, observed, rate, seconds)
        offered_until = time.time()
        await observed.wait_answered(within=within)
        wall = time.perf_counter() - started
        cpu_after = cpu_seconds_of(pids)
        after = await mongo_commands(system)
    await stored_times(measure.mongo, system.namespace, observed)
    figures = pipeline_figures(observed)
    model = await measure.model_seconds(observed)
    replies = max(1, figures["sent"])
    used = {name: cpu_after[name] - cpu_before[name] for name in cpu_after if name in cpu_before}
    return {
        **{k: v for k, v in figures.items() if k not in ("latencies_ms", "hop_ms")},
        "replies_per_second_under_load": under_load(observed, offered_until),
        "latency_without_model_ms": without_model(observed, model),
        "cpu_ms_per_message": {
            **{name: round(s * 1000 / replies, 2) for name, s in sorted(used.items())},
            "total": round(sum(used.values()) * 1000 / replies, 1),
        },
        "cpu_cores": {name: round(s / wall, 3) for name, s in sorted(used.items())}
        | {"total": round(sum(used.values()) / wall, 2)},
        "mongo_commands_per_message": commands_per_message(before, after, figures["accepted"]),
        "partitions_held": await partitions_held(system),
    }


def under_load(observed: Observed, until: float) -> float:
    """Replies a second from the first reply until the load ended (``until``): the rate
    the pipeline kept up while it was offered the load. (The sustained rate, replies over
    the span from the first accept to the last reply, also counts the tail of the last
    messages' model calls, seconds long with a real model.)"""
    times = sorted(t for m, t in observed.sent_at.items() if m in observed.accepted_at)
    if not times or until <= times[0]:
        return float("nan")
    return sum(1 for t in times if t <= until) / (until - times[0])


async def offer(
    measure: Measure, threads: Sequence[str], observed: Observed, rate: float, seconds: float
) -> None:
    """Post to ``threads`` round-robin at ``rate`` msg/s for ``seconds``, each message to
    the next ingest instance in turn; note each accepted message's time in ``observed``."""
    system = measure.system
    async with AsyncExitStack() as clients:
        ingests = [
            await clients.enter_async_context(
                aiohttp.ClientSession(base_url=url, timeout=TIMEOUT, headers=system.ingest_headers)
            )
            for url in system.programs["ingest"].urls
        ]

        async def post(index: int) -> None:
            started = time.time()
            client = ingests[index % len(ingests)]
            message_id = await post_message(client, threads[index % len(threads)], FAQ_TEXT)
            if message_id is not None:
                observed.accepted_at[message_id] = started

        await open_loop(rate, seconds, post)


def scaling_lines(results: dict[str, Any]) -> list[str]:
    """The scaling phase's figures, one line per run."""
    found = results.get("scaling")
    if not found:
        return []
    lines = [
        f"scaling at {found['rate_per_second']:g} msg/s offered, {found['partitions']} "
        f"partitions, {found['llm_max_concurrent_per_instance']} model calls per ai-responder, "
        f"lognormal model (median {found['model']['lognormal_median_ms']:.0f} ms): "
        f"2 instances keep up {found['throughput_ratio']:.2f} x 1 instance's reply rate"
    ]
    for run in found["runs"].values():
        latency, cpu = run["latency_ms"], run["cpu_ms_per_message"]
        services = ", ".join(f"{s} {cpu[s]:.1f}" for s in SERVICES if s in cpu)
        lines.append(
            f"  {run['instances']} instance(s): {run['replies_per_second_under_load']:.1f} "
            f"replies/s under load ({run['per_second']:.1f}/s sustained), p50/p95/p99 "
            + "/".join(f"{latency[q]:.0f}" for q in ("p50", "p95", "p99"))
            + f" ms; CPU ms per message {cpu['total']:.1f} ({services}); "
            f"{run['cpu_cores']['total']:.2f} cores busy"
        )
    return lines
