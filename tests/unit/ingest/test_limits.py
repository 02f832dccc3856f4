"""Token buckets per gateway key and per end user, on a clock the test moves."""

from __future__ import annotations

import pytest

from baton_ingest.limits import RateLimitedError, RateLimits, TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, tracked=10, clock=clock)

    assert [buckets.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("k") == pytest.approx(0.5)  # one token every half second
    clock.now += 0.25
    assert buckets.take("k") == pytest.approx(0.25)  # refused requests take nothing
    clock.now += 0.25
    assert buckets.take("k") == 0.0
    assert buckets.take("k") == pytest.approx(0.5)
    clock.now += 60
    assert [buckets.take("k") for _ in range(4)][-1] > 0  # refilled to the burst, no more


def test_buckets_are_independent() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, tracked=10, clock=Clock())
    assert buckets.take("a") == 0.0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0.0


def test_memory_is_bounded_by_dropping_the_least_recently_used() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=1, tracked=3, clock=clock)
    for key in ("a", "b", "c"):
        buckets.take(key)
    buckets.take("a")  # used again: "b" is now the oldest
    buckets.take("d")
    assert len(buckets) == 3
    assert buckets.take("b") == 0.0  # forgotten, so full again
    assert buckets.take("a") > 0  # remembered, still empty


def test_the_key_limit_comes_before_the_users() -> None:
    clock = Clock()
    limits = RateLimits(
        per_key=TokenBuckets(rate=1.0, burst=3, tracked=10, clock=clock),
        per_user=TokenBuckets(rate=0.5, burst=1, tracked=10, clock=clock),
    )
    limits.admit("gw-1")
    limits.admit_user("gw-1", "alice")
    with pytest.raises(RateLimitedError, match="for this end user") as refused:
        limits.admit_user("gw-1", "alice")
    assert (refused.value.status, refused.value.code) == (429, "rate_limited")
    assert refused.value.retry_after == "2"
    limits.admit_user("gw-2", "alice")  # the same id at another gateway is another user
    limits.admit_user("gw-1", None)  # no user, no user limit

    limits.admit("gw-1")
    limits.admit("gw-1")
    with pytest.raises(RateLimitedError, match="with this gateway key") as refused:
        limits.admit("gw-1")
    assert refused.value.retry_after == "1"
    limits.admit("gw-2")


def test_retry_after_is_whole_seconds_and_never_zero() -> None:
    assert RateLimitedError("x", retry_after_s=0.01).retry_after == "1"
    assert RateLimitedError("x", retry_after_s=1.2).retry_after == "2"
    assert RateLimitedError("x", retry_after_s=3.0).retry_after == "3"
