"""The summary printed at the end of a run: the figures, and each target met or not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .profiling import hottest
from .scaling import scaling_lines
from .streaming import streaming_line
from .targets import evaluate, verdict


def _ms(figures: dict[str, float], *quantiles: str) -> str:
    return "/".join(f"{figures[q]:.0f}" for q in quantiles) + " ms"


def zero_latency_line(results: dict[str, Any]) -> str | None:
    """Throughput, latency and the floor with the zero-latency model, as far as measured."""
    parts = []
    if "baseline" in results:
        parts.append(f"baseline {results['baseline']['per_second']:.0f}/s")
    pipeline = results.get("pipeline")
    if pipeline:
        ratio = pipeline.get("ratio_to_baseline")
        versus = f" ({ratio:.2f} x B)" if ratio is not None else ""
        parts.append(f"pipeline {pipeline['per_second']:.1f}/s{versus}")
    half = results.get("latency_at_half_load")
    if half:
        parts.append(
            f"at {half['rate_per_second']:.0f} msg/s p50/p95/p99 "
            f"{_ms(half['latency_ms'], 'p50', 'p95', 'p99')}, without the model call "
            f"{_ms(half['latency_without_model_ms'], 'p50', 'p95', 'p99')}"
        )
    by_rate = results.get("latency_by_rate")
    if by_rate:
        holds, target = by_rate["holds_up_to_per_second"], by_rate["target_p99_ms"]
        parts.append(
            f"p99 without the model call within {target:.0f} ms up to {holds:.0f} msg/s"
            if holds is not None
            else f"p99 without the model call over {target:.0f} ms at every rate"
        )
    lone = results.get("lone_message")
    if lone:
        cpu = lone["cpu_ms_per_message"]
        busiest = sorted(((v, k) for k, v in cpu.items() if k != "total"), reverse=True)[:4]
        parts.append(
            f"at {lone['rate_per_second']:.0f} msg/s a message costs {cpu['total']:.1f} ms of CPU ("
            + ", ".join(f"{name} {ms:.1f}" for ms, name in busiest)
            + f"), {lone['mongo_commands_per_message']['total']} MongoDB commands"
        )
    floor = results.get("kafka_floor")
    if floor:
        parts.append(f"Kafka alone p50/p95/p99 {_ms(floor['latency_ms'], 'p50', 'p95', 'p99')}")
    claims = results.get("claims")
    if claims:
        parts.append(
            "double claims "
            + ", ".join(f"{n}: {c['api']['double_claims']}" for n, c in claims.items())
        )
    return " | ".join(parts) if parts else None


def model_lines(results: dict[str, Any]) -> list[str]:
    """The model-latency phases' figures, one line each."""
    model = results.get("model_latency", {})
    lines = []
    hol = model.get("head_of_line")
    if hol:
        added = hol["ordinary_added_latency_ms"]
        lines.append(
            f"head-of-line: {hol['slow_calls']} calls of {hol['slow_call_ms']} ms "
            f"({hol['slow_in_flight_when_ordinary_began']} in flight, {hol['slow_replied']} "
            f"replied); {hol['ordinary_replied']}/{hol['ordinary_accepted']} ordinary replies, "
            f"added latency max/p50/p99 {_ms(added, 'max', 'p50', 'p99')}"
        )
    for key in ("added_latency_at_fixed_rate", "added_latency_at_held_rate"):
        phase = model.get(key)
        if phase:
            added = phase["latency_without_model_ms"]
            lines.append(
                f"added latency at {phase['rate_per_second']:.1f} msg/s: p50/p95/p99/max "
                f"{_ms(added, 'p50', 'p95', 'p99', 'max')} ({phase['sent']}/{phase['accepted']} "
                f"replied, sustained {phase['per_second']:.1f}/s; model call p50 "
                f"{added['model_call_p50']:.0f} ms)"
            )
    fixed = model.get("throughput_with_fixed_model")
    if fixed:
        ratio = fixed["ratio_to_zero_latency"]
        lines.append(
            f"with a {fixed['model']['fixed_ms']} ms model: {fixed['per_second']:.1f}/s of "
            f"{fixed['offered_per_second']:.1f} offered"
            + (f" ({ratio:.2f} x the zero-latency rate)" if ratio is not None else "")
            + f", {fixed['unanswered']} unanswered when the wait ended"
        )
    return lines


def lost_and_duplicated(results: dict[str, Any]) -> str:
    """Lost and duplicated replies over every phase that counts them."""
    phases = [results.get("pipeline")]
    phases += [row for row in results.get("latency_by_rate", {}).get("rates", ())]
    model = results.get("model_latency", {})
    phases += [model.get("added_latency_at_fixed_rate"), model.get("added_latency_at_held_rate")]
    phases += list(results.get("scaling", {}).get("runs", {}).values())
    counted = [phase for phase in phases if phase]
    lost = sum(phase["lost"] for phase in counted)
    duplicated = sum(phase["duplicated"] for phase in counted)
    duplicated += sum(
        model[key]["duplicated"]
        for key in ("head_of_line", "throughput_with_fixed_model")
        if key in model
    )
    return f"lost {lost}, duplicated {duplicated} in all phases"


def summary(results: dict[str, Any], out: Path, *, profile: bool) -> str:
    lines = []
    if profile:
        for found in sorted((out / "profiles").glob("**/*.txt")):
            phase = "throughput" if found.parent == out / "profiles" else found.parent.name
            lines.append(f"\n{found.stem}, {phase}: hottest functions (self time)")
            lines += [f"  {share:6.1%}  {frame}" for frame, share in hottest(found)]
    lines.append("")
    if (zero := zero_latency_line(results)) is not None:
        lines.append(zero)
    lines += model_lines(results)
    if (streamed := streaming_line(results)) is not None:
        lines.append(streamed)
    lines += scaling_lines(results)
    lines.append(lost_and_duplicated(results))
    lines.append("targets:")
    for target in evaluate(results):
        lines.append(
            f"  {verdict(target['met']):>12}  {target['target']}: {target['figure'] or '-'}"
        )
    return "\n".join(lines)
