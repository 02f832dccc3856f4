"""How long the scripted model takes to answer, when it should take as long as a real one.

Real model calls take from a few hundred milliseconds to many seconds, with a heavy tail: a
lognormal distribution, given here by its median and its p99, fits that shape. Seeded, the
sequence of latencies is the same from run to run (the order in which calls draw them is not).
"""

from __future__ import annotations

import math
import random
from statistics import NormalDist

# The standard normal's 99th percentile: ln(p99 / median) / Z99 is the lognormal's sigma.
_Z99 = NormalDist().inv_cdf(0.99)


class LognormalLatency:
    """Latencies in milliseconds drawn from a lognormal distribution."""

    def __init__(self, median_ms: float, p99_ms: float, *, seed: int | None = None) -> None:
        if median_ms <= 0 or p99_ms < median_ms:
            raise ValueError(f"need 0 < median <= p99, got median {median_ms}, p99 {p99_ms}")
        self.median_ms = median_ms
        self.p99_ms = p99_ms
        self.mu = math.log(median_ms)
        self.sigma = math.log(p99_ms / median_ms) / _Z99
        self._random = random.Random(seed)  # noqa: S311 - latencies, not secrets

    def sample_ms(self) -> float:
        """The next call's latency."""
        return self._random.lognormvariate(self.mu, self.sigma)

    def quantile_ms(self, q: float) -> float:
        """The distribution's ``q`` quantile (0 < q < 1), as a check on the samples."""
        return math.exp(self.mu + self.sigma * NormalDist().inv_cdf(q))
