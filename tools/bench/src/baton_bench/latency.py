"""From what a phase observed to its figures: replies, the sustained rate, end-to-end
latency and the latency each hop adds; the latency a reply's model call does not explain;
and the latency by rate against its target."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from baton_testkit import Observed

from .stats import percentile, percentiles_ms

LATENCY_TARGET_MS = 50.0
"""The end-to-end p99, model time excluded, that the pipeline is to keep."""


def pipeline_figures(observed: Observed) -> dict[str, Any]:
    """Counts, the sustained rate, the latency and its hops; ``latencies_ms`` (every reply's
    latency) is for the plot, not for ``bench.json``."""
    done = [m for m in observed.accepted_at if m in observed.sent_at]
    latencies = [observed.sent_at[m] - observed.accepted_at[m] for m in done]
    # Sustained rate: replies over the span from the first accept to the last reply, so
    # the backlog built while submitting counts against the pipeline, not for it.
    span = (
        max(observed.sent_at[m] for m in done) - min(observed.accepted_at[m] for m in done)
        if done
        else 1.0
    )
    ingest = [
        observed.received_at[m] - observed.accepted_at[m] for m in done if m in observed.received_at
    ]
    router = [
        observed.routed_at[m] - observed.received_at[m]
        for m in done
        if m in observed.routed_at and m in observed.received_at
    ]
    ai = [observed.sent_at[m] - observed.routed_at[m] for m in done if m in observed.routed_at]
    reply = [
        observed.replied_at[m] - observed.routed_at[m] for m in done if m in observed.routed_at
    ]
    publish = [observed.appended_at[m] - observed.replied_at[m] for m in done]
    seen = [observed.sent_at[m] - observed.appended_at[m] for m in done]
    server = [
        observed.appended_at[m] - observed.received_at[m] for m in done if m in observed.received_at
    ]
    return {
        "accepted": len(observed.accepted_at),
        "sent": len(done),
        "lost": len(observed.accepted_at) - len(done),
        # A second, different reply to one message; and the same message.sent event seen
        # more than once (a gateway drops such a repeat by its event id).
        "duplicated": sum(1 for m in done if len(observed.replies.get(m, ())) > 1),
        "repeated_events": sum(n - 1 for n in observed.sent_events.values()),
        "per_second": len(done) / max(1e-9, span),
        "latency_ms": percentiles_ms(latencies),
        # The latency each hop adds, from the events' own timestamps.
        "hop_ms": {
            hop: percentiles_ms(values)
            for hop, values in (
                ("ingest accept -> message.received", ingest),
                ("message.received -> route.decided", router),
                ("route.decided -> message.sent (seen)", ai),
                ("route.decided -> reply made", reply),
                ("reply made -> message.sent appended", publish),
                ("message.sent appended -> seen", seen),
                ("message.received -> message.sent appended", server),
            )
        },
        "latencies_ms": [x * 1000 for x in latencies],
    }


def added_seconds(
    observed: Observed, model: Mapping[uuid.UUID, float], among: Sequence[uuid.UUID] | None = None
) -> dict[uuid.UUID, float]:
    """User message -> its reply's latency less the reply's model call: what the pipeline
    added. Of the messages ``among`` (default: every accepted one) with a reply whose model
    time is known."""
    return {
        m: observed.sent_at[m] - observed.accepted_at[m] - model[m]
        for m in (observed.accepted_at if among is None else among)
        if m in observed.sent_at and m in model and m in observed.accepted_at
    }


def without_model(observed: Observed, model: Mapping[uuid.UUID, float]) -> dict[str, float]:
    """End-to-end latency percentiles with each reply's model call taken out."""
    added = list(added_seconds(observed, model).values())
    return {
        **percentiles_ms(added),
        "max": max(added, default=float("nan")) * 1000,
        "replies": len(added),
        "model_call_p50": percentile(list(model.values()), 50) * 1000,
    }


def latency_by_rate(points: Sequence[dict[str, Any]], sustained: float) -> dict[str, Any]:
    """The latency phases' figures by rate, lowest first, and the highest rate up to which
    every measured rate kept the p99 without the model call within :data:`LATENCY_TARGET_MS`
    (None when the lowest did not)."""
    rows = sorted(
        (
            {
                "rate_per_second": point["rate_per_second"],
                "fraction_of_sustained": point["rate_per_second"] / sustained,
                "latency_without_model_ms": {
                    q: point["latency_without_model_ms"][q] for q in ("p50", "p95", "p99")
                },
                "cpu_cores": round(sum(point["cpu_share_of_one_core"].values()), 2),
                "cpu_share_of_one_core": point["cpu_share_of_one_core"],
                "mongo_commands_per_message": point["mongo_commands_per_message"]["total"],
                "lost": point["lost"],
                "duplicated": point["duplicated"],
            }
            for point in points
        ),
        key=lambda row: row["rate_per_second"],
    )
    holds: float | None = None
    for row in rows:
        # A phase without replies has no percentiles (NaN): that is no pass.
        if not row["latency_without_model_ms"]["p99"] <= LATENCY_TARGET_MS:
            break
        holds = row["rate_per_second"]
    return {
        "target_p99_ms": LATENCY_TARGET_MS,
        "holds_up_to_per_second": holds,
        "holds_up_to_fraction_of_sustained": None if holds is None else holds / sustained,
        "rates": rows,
    }
