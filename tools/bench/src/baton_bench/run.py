"""One run: a stack of its own, then each regime's system and its phases, in order."""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from baton_contracts import MessageReceived
from baton_testkit import FAQ_TEXT, LocalStack

from .kafka import baseline_relay, kafka_floor
from .plot import plot
from .regimes import fixed_model, lognormal_model, say, zero_latency
from .scaling import scaling
from .stored import Mongo
from .streaming import streaming
from .targets import evaluate

BENCH_STACK_PORTS = (19292, 19293, 17317)


def workspace_root() -> Path:
    """The repository this package belongs to (its ``.stack/`` holds the bench's stack)."""
    for parent in Path(__file__).resolve().parents:
        pyproject = parent / "pyproject.toml"
        if pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text():
            return parent
    return Path.cwd()


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every phase ``args.phases`` names, in a fixed order; their results for
    ``bench.json``, and ``bench.png`` drawn from them."""
    stack = LocalStack(workspace_root() / ".stack" / "bench", *BENCH_STACK_PORTS)
    # Every run starts from empty servers and logs. Left over from earlier runs, the topics
    # of their namespaces (hundreds) and a store file of a gigabyte slowed Kafka and
    # mongo-java-server down, so that runs were not comparable.
    await stack.down(purge=True)
    shutil.rmtree(args.out / "logs", ignore_errors=True)
    await stack.up()
    mongo: Mongo = AsyncMongoClient(stack.mongodb, tz_aware=True)
    results: dict[str, Any] = {"machine": machine(), "settings": settings(args, stack)}
    raw: dict[str, Sequence[float]] = {}
    phases = args.phases
    try:
        size = len(
            MessageReceived.first(
                thread_id=uuid.uuid4().hex, message_id=uuid.uuid4(), text=FAQ_TEXT
            ).model_dump_json()
        )
        if "baseline" in phases:
            say("baseline relay ...")
            results["baseline"] = await baseline_relay(
                stack.kafka, messages=args.baseline_messages, size=size
            )
            results["baseline"]["message_bytes"] = size
        if phases & {"throughput", "latency", "claims", "memory"}:
            await zero_latency(stack, mongo, args, results, raw)
        if "model-throughput" in phases:
            await fixed_model(stack, mongo, args, results)
        if phases & {"head-of-line", "added-latency"}:
            await lognormal_model(stack, mongo, args, results, raw)
        if "streaming" in phases:
            await streaming(stack, mongo, args, results)
        if "scaling" in phases:
            await scaling(stack, mongo, args, results)
        if "floor" in phases:
            # With the services stopped, Kafka serves the floor alone.
            rate = results.get("latency_at_half_load", {}).get("rate_per_second")
            rate = args.latency_rate or rate or results["pipeline"]["per_second"] / 2
            say(f"Kafka alone at {rate:.1f} msg/s ...")
            kafka = stack.pid("kafka")
            results["kafka_floor"] = await kafka_floor(
                stack.kafka,
                rate=rate,
                seconds=args.seconds,
                size=size,
                keys=args.threads,
                servers={} if kafka is None else {"kafka": kafka},
            )
        results["targets"] = evaluate(results)
        plot(results, raw, args.out / "bench.png")
    finally:
        await mongo.close()
        await stack.down()
    return results


def settings(args: argparse.Namespace, stack: LocalStack) -> dict[str, Any]:
    return {
        "phases": sorted(args.phases),
        "seconds_per_phase": args.seconds,
        "conversations": args.threads,
        "latency_conversations": args.latency_conversations or args.threads,
        "warmup_s": args.warmup,
        "half_load_warmup_s": args.half_warmup,
        "latency_rate": args.latency_rate or "half the sustained rate",
        "lone_message_rate": args.lone_rate,
        "mongo_server": stack.mongo_server,
        "model_latency": {
            "lognormal_median_ms": args.model_median_ms,
            "lognormal_p99_ms": args.model_p99_ms,
            "seed": args.seed,
            "fixed_model_ms": args.fixed_model_ms,
            "ai_responder_llm_max_concurrent": args.llm_max_concurrent,
            "added_latency_rate": args.added_rate,
            "held_rate": args.held_rate or f"{args.held_fraction:g} x the fixed model's rate",
            "slow_calls": args.slow_calls,
            "slow_call_ms": args.slow_call_ms,
            "head_of_line_rate": args.hol_rate,
            "warmup_s": args.model_warmup,
            "patience_s": args.model_patience,
        },
        "scaling": {
            "rate": args.scaling_rate,
            "partitions": args.scaling_partitions,
            "llm_max_concurrent_per_instance": args.scaling_llm_max_concurrent,
        },
        "streaming": {
            "rate": args.stream_rate,
            "tokens_per_s": args.stream_tokens_per_s,
            "first_token_median_ms": args.stream_first_token_median_ms,
            "first_token_p99_ms": args.stream_first_token_p99_ms,
        },
    }
