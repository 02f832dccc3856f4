from __future__ import annotations

from prometheus_client import Counter

ROUTING_DECISIONS = Counter(
    "baton_routing_decisions_total",
    "Routing decisions by handler (ai, human) and strategy.",
    ["handler", "strategy"],
)
