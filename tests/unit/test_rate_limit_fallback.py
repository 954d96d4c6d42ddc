"""The per-instance fallback of the shared rate limiter, on a fake clock."""

from __future__ import annotations

import pytest

from courier.rate_limit import (
    FallbackRateLimiter,
    LocalRateLimiter,
    RateLimiterUnavailable,
    RateLimitExceeded,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class SharedStore:
    """A shared limiter whose store can be switched off."""

    def __init__(self) -> None:
        self.up = True
        self.calls = 0

    def acquire(self, tokens: int) -> float:
        self.calls += 1
        if not self.up:
            raise RateLimiterUnavailable("ConnectionError: refused")
        return 0.0


def test_instances_pacing_alone_stay_within_the_shared_rate_together() -> None:
    # Given 15 instances, each at 20/15 parts per second (the deployed 20 mps over 10 + 5)
    clock = FakeClock()
    sent_at: list[float] = []
    limiters = [
        LocalRateLimiter(rate=20 / 15, max_wait_seconds=1e9, clock=clock, sleep=lambda s: None)
        for _ in range(15)
    ]

    # When every instance sends 40 single-part messages as fast as it is allowed
    for _ in range(40):
        for limiter in limiters:
            sent_at.append(clock.now + limiter.acquire(1))

    # Then no one-second window holds more than the shared 20 (+ each instance's one burst token)
    sent_at.sort()
    busiest = max(sum(1 for t in sent_at if start <= t < start + 1) for start in sent_at)
    assert busiest <= 20 + 15
    duration = sent_at[-1] - sent_at[0]
    assert len(sent_at) / duration <= 20 * 1.05


def test_a_wait_beyond_the_budget_reserves_nothing() -> None:
    clock = FakeClock()
    # Given one part per second, a 2 s budget, and 3 parts just reserved (waiting 2 s)
    limiter = LocalRateLimiter(rate=1, max_wait_seconds=2, clock=clock, sleep=lambda s: None)
    assert limiter.acquire(3) == pytest.approx(2.0)

    # When 2 more parts are asked for, Then the 4 s wait is refused
    with pytest.raises(RateLimitExceeded):
        limiter.acquire(2)

    # And nothing was booked: a second later, one part waits only the 2 s left
    clock.now += 1
    assert limiter.acquire(1) == pytest.approx(2.0)


def test_an_outage_switches_to_the_fallback_then_back_with_one_probe_per_period() -> None:
    # Given a shared limiter whose store goes down
    clock = FakeClock()
    shared = SharedStore()
    fallback = LocalRateLimiter(rate=100, clock=clock, sleep=clock.sleep)
    limiter = FallbackRateLimiter(
        shared, fallback, fallback_rate=100, retry_after_seconds=10, clock=clock
    )
    limiter.acquire(1)
    shared.up = False

    # When sends go on for the next 5 seconds
    for _ in range(50):
        limiter.acquire(1)
        clock.now += 0.1

    # Then they were all paced by the fallback, the store was asked once, and it is reported
    assert limiter.degraded
    assert shared.calls == 2
    assert limiter.take_degraded_count() == 50
    assert limiter.take_degraded_count() == 0

    # When the store is back and the retry period has passed
    shared.up = True
    clock.now += 10
    limiter.acquire(1)

    # Then the shared limiter serves again
    assert not limiter.degraded
    assert shared.calls == 3
    assert limiter.take_degraded_count() == 0
