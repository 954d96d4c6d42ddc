"""A rate limiter shared by every concurrent caller (SMS senders, chat connections), on Redis.

Hand-written because no maintained library offers a cross-process *reserving* limiter on Redis:
each caller reserves its slot with one atomic script (GCRA, "generic cell rate algorithm") and
sleeps until it, so N Lambda instances together pace sends evenly instead of bursting and retrying.
Time comes from the Redis server's clock, so instances with skewed clocks still agree.

When Redis cannot be reached, `FallbackRateLimiter` paces each instance on its own with the same
algorithm in memory, at the shared rate divided by the most instances that can run at once, so
the provider's rate holds through an outage without failing a single job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from courier.observability import logger

if TYPE_CHECKING:
    import redis


class RateLimitExceeded(Exception):
    """The wait for a slot would exceed the caller's budget; nothing was reserved."""

    def __init__(self, wait_seconds: float) -> None:
        super().__init__(f"rate limit: next slot in {wait_seconds:.2f}s")
        self.wait_seconds = wait_seconds


class RateLimiterUnavailable(Exception):
    """The shared limiter's store did not answer; nothing is known to be reserved."""


class RateLimiter(Protocol):
    def acquire(self, tokens: int) -> float:
        """Block until `tokens` may be spent; return the seconds waited."""
        ...


class AllOf:
    """Every limiter must grant the tokens (a sender's own share within the shared budget)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self._limiters = limiters

    def acquire(self, tokens: int) -> float:
        # The narrower limiter goes first: its wait is spent before booking the shared slot,
        # so a capped sender does not hold shared slots it cannot use yet.
        return sum(limiter.acquire(tokens) for limiter in self._limiters)


class Unlimited:
    """No limit (rate 0): for providers without a rate, and for raw-throughput benchmarks."""

    def acquire(self, tokens: int) -> float:
        return 0.0


# KEYS[1]: theoretical arrival time (µs). ARGV: interval per token (µs), tokens, tolerance (µs),
# max wait (µs). Returns {1, wait_µs} when reserved, {0, wait_µs} when the wait is too long.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tokens = tonumber(ARGV[2])
local tolerance = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval * tokens
local wait = new_tat - tolerance - now
if wait < 0 then wait = 0 end
if wait > max_wait then return {0, math.floor(wait)} end
local ttl_ms = math.floor((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return {1, math.floor(wait)}
"""


class RedisRateLimiter:
    """GCRA over Redis: `rate` tokens per second, `burst` tokens may go back to back."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        key: str,
        rate: float,
        burst: float = 1.0,
        max_wait_seconds: float = 10.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive; use Unlimited for no limit")
        self._script = client.register_script(_GCRA)
        self._key = key
        self._interval_us = 1_000_000 / rate
        self._tolerance_us = max(burst, 1.0) * self._interval_us
        self._max_wait_us = max_wait_seconds * 1_000_000
        self._sleep = sleep

    def acquire(self, tokens: int) -> float:
        import redis

        try:
            reserved, wait_us = self._script(
                keys=[self._key],
                args=[self._interval_us, tokens, self._tolerance_us, self._max_wait_us],
            )
        except redis.RedisError as error:
            raise RateLimiterUnavailable(f"{type(error).__name__}: {error}") from error
        wait = int(wait_us) / 1_000_000
        if not int(reserved):
            raise RateLimitExceeded(wait)
        if wait > 0:
            self._sleep(wait)
        return wait


class LocalRateLimiter:
    """The same GCRA in this process's memory: `rate` tokens per second for its callers only."""

    def __init__(
        self,
        *,
        rate: float,
        burst: float = 1.0,
        max_wait_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive; use Unlimited for no limit")
        self._interval = 1 / rate
        self._tolerance = max(burst, 1.0) * self._interval
        self._max_wait = max_wait_seconds
        self._clock = clock
        self._sleep = sleep
        self._tat = 0.0
        self._lock = threading.Lock()

    def acquire(self, tokens: int) -> float:
        with self._lock:
            now = self._clock()
            new_tat = max(self._tat, now) + self._interval * tokens
            wait = max(0.0, new_tat - self._tolerance - now)
            if wait > self._max_wait:
                raise RateLimitExceeded(wait)
            self._tat = new_tat
        if wait > 0:
            self._sleep(wait)
        return wait


class FallbackRateLimiter:
    """The shared limiter while its store answers; this instance's own share while it does not.

    After a failure the shared store is left alone for `retry_after_seconds`, so an outage costs
    one failed round trip per period rather than one per send. Entering and leaving the degraded
    state is logged; `take_degraded_count` tells the caller how many acquisitions ran degraded
    (the consumer turns it into the `SmsRateLimitDegraded` metric).
    """

    def __init__(
        self,
        shared: RateLimiter,
        fallback: RateLimiter,
        *,
        fallback_rate: float,
        retry_after_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shared = shared
        self._fallback = fallback
        self._fallback_rate = fallback_rate
        self._retry_after = retry_after_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._degraded_until: float | None = None
        self._degraded_count = 0

    @property
    def degraded(self) -> bool:
        return self._degraded_until is not None

    def acquire(self, tokens: int) -> float:
        if not self._degraded_now():
            try:
                wait = self._shared.acquire(tokens)
            except RateLimiterUnavailable as error:
                self._enter_degraded(str(error))
            else:
                self._leave_degraded()
                return wait
        with self._lock:
            self._degraded_count += 1
        return self._fallback.acquire(tokens)

    def take_degraded_count(self) -> int:
        """Acquisitions served by the fallback since the last call (then reset to 0)."""
        with self._lock:
            count, self._degraded_count = self._degraded_count, 0
            return count

    def _degraded_now(self) -> bool:
        with self._lock:
            return self._degraded_until is not None and self._clock() < self._degraded_until

    def _enter_degraded(self, reason: str) -> None:
        with self._lock:
            first = self._degraded_until is None
            self._degraded_until = self._clock() + self._retry_after
        if first:
            logger.warning(
                "rate limiter degraded: shared store unavailable, pacing this instance alone",
                extra={"reason": reason[:200], "instance_rate_per_second": self._fallback_rate},
            )

    def _leave_degraded(self) -> None:
        with self._lock:
            was_degraded = self._degraded_until is not None
            self._degraded_until = None
        if was_degraded:
            logger.info("rate limiter recovered: shared store answers again")
