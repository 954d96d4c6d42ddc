"""A rate limiter shared by every concurrent caller (SMS senders, chat connections), on Redis.

Hand-written because no maintained library offers a cross-process *reserving* limiter on Redis:
each caller reserves its slot with one atomic script (GCRA, "generic cell rate algorithm") and
sleeps until it, so N Lambda instances together pace sends evenly instead of bursting and retrying.
Time comes from the Redis server's clock, so instances with skewed clocks still agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import redis


class RateLimitExceeded(Exception):
    """The wait for a slot would exceed the caller's budget; nothing was reserved."""

    def __init__(self, wait_seconds: float) -> None:
        super().__init__(f"rate limit: next slot in {wait_seconds:.2f}s")
        self.wait_seconds = wait_seconds


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
        reserved, wait_us = self._script(
            keys=[self._key],
            args=[self._interval_us, tokens, self._tolerance_us, self._max_wait_us],
        )
        wait = int(wait_us) / 1_000_000
        if not int(reserved):
            raise RateLimitExceeded(wait)
        if wait > 0:
            self._sleep(wait)
        return wait
