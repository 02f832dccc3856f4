"""``python -m baton_bench``: the options, the run, ``bench.json`` and the summary."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop

from . import __doc__ as description
from .report import summary
from .run import run

PHASES = (
    "baseline",
    "throughput",
    "latency",
    "claims",
    "memory",
    "model-throughput",
    "head-of-line",
    "added-latency",
    "streaming",
    "scaling",
    "floor",
)
"""Every phase, in the order a run measures them."""


def fractions(text: str) -> tuple[float, ...]:
    """``--curve``'s fractions of the sustained rate, highest first."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from exc
    if any(not 0 < value <= 1 for value in values):
        raise argparse.ArgumentTypeError(f"fractions must be in (0, 1]: {text!r}")
    return tuple(sorted(values, reverse=True))


def phases(text: str) -> frozenset[str]:
    """``--phases``: names from :data:`PHASES`, comma-separated."""
    chosen = frozenset(part.strip() for part in text.split(",") if part.strip())
    unknown = chosen - set(PHASES)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown phases {sorted(unknown)}; choose from {', '.join(PHASES)}"
        )
    return chosen


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m baton_bench",
        description=(description or "").split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--phases",
        type=phases,
        default=frozenset(PHASES),
        help=f"comma-separated phases to run, of: {','.join(PHASES)}",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"), help="results folder")
    parser.add_argument("--seconds", type=float, default=20.0, help="per measured phase")
    parser.add_argument("--threads", type=int, default=32, help="concurrent conversations")
    parser.add_argument(
        "--warmup",
        type=float,
        default=60.0,
        help="seconds of unmeasured load at full speed first (the JVMs compile their hot paths)",
    )
    parser.add_argument(
        "--half-warmup",
        type=float,
        default=30.0,
        help="seconds of unmeasured load at the half-load rate before that phase is measured",
    )
    parser.add_argument(
        "--latency-rate",
        type=float,
        default=None,
        help="msg/s of the latency phase (and of Kafka alone) instead of half the sustained rate",
    )
    parser.add_argument(
        "--latency-conversations",
        type=int,
        default=0,
        help="new conversations for the latency phase (0: the throughput phase's)",
    )
    parser.add_argument(
        "--curve",
        type=fractions,
        default=(0.4, 0.3, 0.2, 0.1),
        help="further latency phases, as fractions of the sustained rate ('' for none)",
    )
    parser.add_argument(
        "--curve-warmup",
        type=float,
        default=10.0,
        help="seconds of unmeasured load at each further rate before it is measured",
    )
    parser.add_argument(
        "--lone-rate",
        type=float,
        default=25.0,
        help="msg/s of the phase that measures each process's CPU per message (0: skip)",
    )
    parser.add_argument("--baseline-messages", type=int, default=5000)
    parser.add_argument("--tickets", type=int, default=40, help="tickets per claim round")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the services with py-spy during the zero-latency phases",
    )
    model = parser.add_argument_group("model latency")
    model.add_argument("--model-median-ms", type=float, default=800.0)
    model.add_argument("--model-p99-ms", type=float, default=6000.0)
    model.add_argument("--seed", type=int, default=1, help="of the drawn model latencies")
    model.add_argument(
        "--llm-max-concurrent",
        type=int,
        default=256,
        help="the ai-responder's model calls in flight at once, in the model-latency phases",
    )
    model.add_argument(
        "--added-rate", type=float, default=50.0, help="msg/s of the added-latency target"
    )
    model.add_argument(
        "--held-rate",
        type=float,
        default=None,
        help="msg/s of the second added-latency phase (default: --held-fraction of the "
        "rate sustained with the fixed model)",
    )
    model.add_argument("--held-fraction", type=float, default=0.9)
    model.add_argument(
        "--fixed-model-ms", type=int, default=1000, help="the model of the throughput phase"
    )
    model.add_argument(
        "--model-offer-rate",
        type=float,
        default=None,
        help="msg/s offered with the fixed model (default: the zero-latency sustained rate)",
    )
    model.add_argument("--slow-calls", type=int, default=6, help="head-of-line's slow calls")
    model.add_argument("--slow-call-ms", type=int, default=8000)
    model.add_argument(
        "--hol-rate", type=float, default=10.0, help="msg/s of ordinary traffic meanwhile"
    )
    model.add_argument(
        "--model-warmup", type=float, default=10.0, help="seconds unmeasured per model regime"
    )
    stream = parser.add_argument_group("streamed replies")
    stream.add_argument("--stream-rate", type=float, default=10.0, help="msg/s of questions")
    stream.add_argument(
        "--stream-tokens-per-s", type=float, default=60.0, help="the model's writing pace"
    )
    stream.add_argument("--stream-first-token-median-ms", type=float, default=500.0)
    stream.add_argument("--stream-first-token-p99-ms", type=float, default=2500.0)
    scale = parser.add_argument_group("scaling out")
    scale.add_argument(
        "--scaling-rate",
        type=float,
        default=40.0,
        help="msg/s offered to one, then two instances of every service",
    )
    scale.add_argument(
        "--scaling-partitions", type=int, default=6, help="partitions of every topic"
    )
    scale.add_argument(
        "--scaling-llm-max-concurrent",
        type=int,
        default=32,
        help="model calls in flight per ai-responder instance (the service's default)",
    )
    model.add_argument(
        "--model-patience",
        type=float,
        default=60.0,
        help="seconds after a model phase's load that its replies are waited for at most",
    )
    return parser


def check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse phases that lack the rate they run at."""
    chosen = args.phases
    measured = "throughput" in chosen
    if "latency" in chosen and not (measured or args.latency_rate):
        parser.error("the latency phase needs the throughput phase or --latency-rate")
    if "floor" in chosen and not (measured or args.latency_rate):
        parser.error("the floor phase needs the throughput phase or --latency-rate")
    if "model-throughput" in chosen and not (measured or args.model_offer_rate):
        parser.error("the model-throughput phase needs the throughput phase or --model-offer-rate")


def main(argv: Sequence[str] | None = None) -> None:
    command = parser()
    args = command.parse_args(argv)
    check(args, command)
    args.out.mkdir(parents=True, exist_ok=True)
    # The services' loop (uvloop) for the relay and the load alike: the baseline is measured
    # on what the services run on, and the load generator takes less of the shared CPU.
    results = uvloop.run(run(args))
    (args.out / "bench.json").write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps(results, indent=2, default=str))
    print(summary(results, args.out, profile=args.profile), file=sys.stderr)
