"""Rate limits of gateway requests: token buckets per key and per end user, in memory.

Each ingest instance counts on its own, so with N instances behind a load balancer a
gateway gets up to N times the configured rate. Memory is bounded: at most ``tracked``
buckets per kind, the least recently used dropped first. A bucket dropped is a full
bucket, which after a pause it would be anyway.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from .domain import IngestError

Clock = Callable[[], float]


class RateLimitedError(IngestError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    @property
    def retry_after(self) -> str:
        """The ``Retry-After`` header: whole seconds, at least one."""
        return str(max(1, math.ceil(self.retry_after_s)))


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """One token bucket per key: ``burst`` tokens at most, refilled at ``rate`` per second;
    a request takes one."""

    def __init__(
        self, *, rate: float, burst: int, tracked: int, clock: Clock = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tracked = tracked
        self._clock = clock
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: Hashable) -> float:
        """Take a token for ``key``: 0.0 when there was one, else the seconds until there
        is (and nothing is taken)."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(self._burst, now)
            if len(self._buckets) > self._tracked:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate)
            bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self._rate


class RateLimits:
    """A gateway key's limit and, within it, each end user's."""

    def __init__(self, *, per_key: TokenBuckets, per_user: TokenBuckets) -> None:
        self._per_key = per_key
        self._per_user = per_user

    def admit(self, gateway_id: str) -> None:
        wait = self._per_key.take(gateway_id)
        if wait:
            raise RateLimitedError(
                "too many requests with this gateway key; retry later", retry_after_s=wait
            )

    def admit_user(self, gateway_id: str, user_id: str | None) -> None:
        if user_id is None:
            return
        wait = self._per_user.take((gateway_id, user_id))
        if wait:
            raise RateLimitedError(
                "too many requests for this end user; retry later", retry_after_s=wait
            )
