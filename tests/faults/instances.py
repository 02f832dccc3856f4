"""What one service instance says it consumes, read from its own ``/metrics``: the
partitions its consumers hold and the records it handled, by topic."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass
class Consumption:
    """One instance's consumers as its metrics showed them, by topic (without the
    deployment's prefix)."""

    partitions: dict[str, int] = field(default_factory=dict)
    """``baton_consumer_partitions``: the partitions each consumer holds."""
    handled: dict[str, int] = field(default_factory=dict)
    """``baton_events_handled_total{outcome="handled"}``: records handled so far."""

    def summary(self) -> str:
        held = ",".join(f"{t}:{n}" for t, n in sorted(self.partitions.items()))
        return f"partitions={held} handled={sum(self.handled.values())}"


async def consumption(url: str, prefix: str) -> Consumption:
    """What the instance at ``url`` consumes now; its topics are named with ``prefix``."""
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{url}/metrics")
    response.raise_for_status()
    found = Consumption()
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            topic = sample.labels.get("topic", "").removeprefix(prefix)
            if sample.name == "baton_consumer_partitions":
                found.partitions[topic] = int(sample.value)
            elif (
                sample.name == "baton_events_handled_total"
                and sample.labels.get("outcome") == "handled"
            ):
                found.handled[topic] = found.handled.get(topic, 0) + int(sample.value)
    return found


async def taking_part(
    url: str, prefix: str, *, topic: str, handled: int, timeout: float
) -> Consumption:
    """Wait until the instance at ``url`` holds partitions of every topic it consumes and
    has handled ``handled`` records of ``topic`` (or ``timeout`` seconds have passed);
    what it showed last."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        seen = await consumption(url, prefix)
        joined = bool(seen.partitions) and all(seen.partitions.values())
        if (joined and seen.handled.get(topic, 0) >= handled) or loop.time() > deadline:
            return seen
        await asyncio.sleep(0.2)
