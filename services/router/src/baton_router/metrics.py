from __future__ import annotations

from typing import get_args

from prometheus_client import Counter

from baton_contracts import Handler, RouteStrategy
from baton_runtime import start_escalation_metrics

from .policy import ESCALATING_STRATEGIES

ROUTING_DECISIONS = Counter(
    "baton_routing_decisions_total",
    "Routing decisions by handler (ai, human) and strategy.",
    ["handler", "strategy"],
)

# Present from the start at zero, so increase() also sees a label value's first change.
for _handler in get_args(Handler):
    for _strategy in get_args(RouteStrategy):
        ROUTING_DECISIONS.labels(_handler, _strategy)
start_escalation_metrics(ESCALATING_STRATEGIES, limited=ESCALATING_STRATEGIES)
