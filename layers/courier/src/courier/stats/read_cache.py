"""Cache-aside for the stats reads (history ranges, single days) over a shared cache port.

What is cached: the periods of `GET /api/stats?from&to&group` (from the Aurora history) and the
item of `GET /api/stats/{date}` (from DynamoDB's DailyStats), as JSON bytes, in the Valkey the
functions share (`courier.stats.redis_cache` is the adapter; this module never imports redis).

Keys (namespaced and versioned; `v1` moves when the cached shape changes):
    courier:stats:v1:generation                              the current generation token
    courier:stats:v1:<generation>:range:<from>:<to>:<group>  a range's periods
    courier:stats:v1:<generation>:day:<date>                 a day's item (`null`: no such day)
    <value key>:lock                                         the miss lock (stampede protection)
Every command names one key, so ElastiCache's cluster mode never sees a cross-slot command.

Invalidation: the publish step writes a new random generation token after every day it writes.
One global generation rather than one per month: a range key would otherwise depend on up to 25
month counters (one read each, or hash-tagged into one slot), while the batch writes ~4 recent
days every night anyway (yesterday and the late-receipt days), which touch the ranges people
read; so a per-month scheme would save little and cost a read per month on every request. A
backfill of any old day therefore invalidates every cached range that contains it, and every
other one: the next read of each recomputes once. A random token (never a counter) cannot come
back: if Redis evicts or loses the generation key, readers set a fresh token (SET NX) instead of
reusing an old number whose stale entries may still be there. The generation also closes the
classic cache-aside race: a reader that read the old generation, then the database before the
write, stores its value under the old generation, which nobody reads again.

TTLs by the age of the newest day a read covers (in the service timezone): `open` (today or
later: the day is still filling, short), `recent` (the days the scheduled run still recounts for
late delivery receipts: invalidated on write, and a short TTL bounds what replica lag may let a
reader cache just after the write), `closed` (older days: long). An empty answer (no such day,
no stored days in the range) is cached at most `open` seconds.

Stampede protection: a miss takes `SET lock NX PX` and computes; other readers of the key poll
for the value for up to `wait_ms` (stopping early if the lock disappears without a value) and
then read the database themselves. The lock expires on its own if its holder dies.

Outage: any cache error (connection refused, timeout: the adapter's client has a short socket
timeout) is a miss served by the database, never an error for the caller; reads then skip the
cache for `retry_after` seconds so an outage costs one timeout per window, not one per read.
Counts (hits, misses, lock waits, errors, bypasses) are kept for the caller's metrics.

Why hand-written and not dogpile.cache (1.5, evaluated from its source): its Redis backends build
their own client (`RedisClusterBackend` a `RedisCluster`, whose import the cold start pays; no way
to pass the client of `courier.redis_connection` with its Secrets Manager password), the Redis
TTL (`redis_expiration_time`) is one per region, not per key; `region.invalidate()` is kept in
the process's memory, so a write in the publish function would invalidate nothing in the API
function without a custom invalidation strategy; a backend error propagates to the caller; and
its distributed lock blocks on redis-py's `Lock` until it gets it, with no "wait briefly, then
read the database". Each of those would be an override; what remains is the ~150 lines here.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Final, Protocol

from pydantic import TypeAdapter

from courier.observability import logger
from courier.stats.history import Group, PeriodTotals, StatsHistory

KEY_PREFIX: Final = "courier:stats:v1"
GENERATION_KEY: Final = f"{KEY_PREFIX}:generation"
POLL_SECONDS: Final = 0.025
# No day, no periods: kept `open` seconds at most, whatever the days' age.
EMPTY_VALUES: Final = frozenset({b"null", b"[]"})

_PERIODS = TypeAdapter(list[PeriodTotals])


class CacheUnavailable(RuntimeError):
    """The cache could not answer (down, slow, refused): the read goes to the database."""


class StatsCache(Protocol):
    """Single-key commands on the shared cache; every failure is raised as CacheUnavailable."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, *, ttl_ms: int | None) -> None:
        """Store (overwrite); `ttl_ms` None keeps the key until overwritten."""
        ...

    def add(self, key: str, value: bytes, *, ttl_ms: int | None) -> bool:
        """Store only if absent (SET NX); True when this call stored it."""
        ...

    def delete_if(self, key: str, value: bytes) -> None:
        """Delete the key if it still holds `value` (releasing a lock this reader took)."""
        ...


class DayReader(Protocol):
    """A day's DailyStats item as plain JSON values, or None (the DynamoDB adapter)."""

    def get(self, day: str) -> dict[str, Any] | None: ...


class CacheTtls:
    """The TTL for a read, from the newest day it covers and today in the service timezone."""

    def __init__(
        self, *, open_seconds: int, recent_seconds: int, closed_seconds: int, recent_days: int
    ) -> None:
        self.open_seconds = open_seconds
        self.recent_seconds = recent_seconds
        self.closed_seconds = closed_seconds
        self.recent_days = recent_days

    def seconds(self, last_day: date, today: date) -> int:
        if last_day >= today:
            return self.open_seconds
        if last_day >= today - timedelta(days=self.recent_days):
            return self.recent_seconds
        return self.closed_seconds


def range_name(first: date, last: date, group: Group) -> str:
    return f"range:{first.isoformat()}:{last.isoformat()}:{group}"


def day_name(day: date) -> str:
    return f"day:{day.isoformat()}"


def value_key(generation: str, name: str) -> str:
    return f"{KEY_PREFIX}:{generation}:{name}"


class StatsReadCache:
    """Read-through of JSON values under the current generation; `invalidate` starts a new one.

    `cache` None switches caching off (no REDIS_URL): every read goes to the database.
    Thread-safe (its counters and back-off state are guarded), like the redis-py client.
    """

    def __init__(
        self,
        cache: StatsCache | None,
        *,
        ttls: CacheTtls,
        zone: tzinfo,
        lock_ms: int = 5000,
        wait_ms: int = 1500,
        retry_after_seconds: float = 10.0,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._cache = cache
        self._ttls = ttls
        self._zone = zone
        self._lock_ms = lock_ms
        self._wait_ms = wait_ms
        self._retry_after = retry_after_seconds
        self._clock = clock or (lambda: datetime.now(zone))
        self._monotonic = monotonic
        self._sleep = sleep
        self._guard = threading.Lock()
        self._skip_until = 0.0
        self._counts: Counter[str] = Counter()

    # -- counts ---------------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._guard:
            self._counts[name] += 1

    def take_counts(self) -> dict[str, int]:
        """hit / miss / wait_hit / wait_timeout / error / bypass / invalidated / invalidate_error
        since the last call (then reset)."""
        with self._guard:
            counts, self._counts = dict(self._counts), Counter()
        return counts

    # -- reads ----------------------------------------------------------------------------------

    def today(self) -> date:
        return self._clock().astimezone(self._zone).date()

    def ttl_seconds(self, last_day: date) -> int:
        return self._ttls.seconds(last_day, self.today())

    def _usable(self) -> StatsCache | None:
        if self._cache is None:
            return None
        with self._guard:
            if self._monotonic() < self._skip_until:
                return None
        return self._cache

    def _failed(self, error: CacheUnavailable, doing: str) -> None:
        with self._guard:
            self._counts["error"] += 1
            self._skip_until = self._monotonic() + self._retry_after
        logger.warning(
            "stats cache unavailable: reading the database",
            extra={"doing": doing, "error": str(error), "skip_seconds": self._retry_after},
        )

    def _generation(self, cache: StatsCache) -> str:
        current = cache.get(GENERATION_KEY)
        if current is None:
            # Lost or never set: a fresh token, never an old value whose entries may remain.
            cache.add(GENERATION_KEY, secrets.token_hex(8).encode(), ttl_ms=None)
            current = cache.get(GENERATION_KEY)
            if current is None:
                raise CacheUnavailable("the generation key cannot be kept")
        return current.decode()

    def read(self, name: str, last_day: date, load: Callable[[], bytes]) -> bytes:
        """The cached value of `name`, or `load()` (stored for the TTL of `last_day`'s age)."""
        cache = self._usable()
        if cache is None:
            self._count("bypass")
            return load()
        owner = False
        try:
            key = value_key(self._generation(cache), name)
            cached = cache.get(key)
            if cached is not None:
                self._count("hit")
                return cached
            self._count("miss")
            lock_key, token = f"{key}:lock", secrets.token_hex(8).encode()
            owner = cache.add(lock_key, token, ttl_ms=self._lock_ms)
            if not owner:
                waited = self._wait_for(cache, key, lock_key)
                if waited is not None:
                    self._count("wait_hit")
                    return waited
                self._count("wait_timeout")
        except CacheUnavailable as error:
            self._failed(error, f"read {name}")
            return load()
        try:
            value = load()
            ttl = self.ttl_seconds(last_day)
            if value in EMPTY_VALUES:
                ttl = min(ttl, self._ttls.open_seconds)
            self._store(cache, key, value, ttl, name)
            return value
        finally:
            if owner:
                with suppress(CacheUnavailable):  # else it expires on its own after lock_ms
                    cache.delete_if(lock_key, token)

    def _wait_for(self, cache: StatsCache, key: str, lock_key: str) -> bytes | None:
        """The value another reader is computing, if it arrives within wait_ms."""
        deadline = self._monotonic() + self._wait_ms / 1000
        while self._monotonic() < deadline:
            self._sleep(POLL_SECONDS)
            value = cache.get(key)
            if value is not None:
                return value
            if cache.get(lock_key) is None:
                return cache.get(key)  # stored just now, or its reader failed: no more waiting
        return None

    def _store(self, cache: StatsCache, key: str, value: bytes, ttl: int, name: str) -> None:
        try:
            cache.set(key, value, ttl_ms=ttl * 1000)
        except CacheUnavailable as error:
            self._failed(error, f"store {name}")

    # -- invalidation ---------------------------------------------------------------------------

    def invalidate(self, day: date) -> bool:
        """Make every cached read stale after `day` was written; False (logged) if it could not.

        The back-off does not apply: a write must try to invalidate whatever reads have seen.
        """
        if self._cache is None:
            return False
        try:
            self._cache.set(GENERATION_KEY, secrets.token_hex(8).encode(), ttl_ms=None)
        except CacheUnavailable as error:
            self._count("invalidate_error")
            logger.error(
                "stats cache not invalidated: cached reads may be stale until their TTL",
                extra={"day": day.isoformat(), "error": str(error)},
            )
            return False
        self._count("invalidated")
        return True


class CachedStatsHistory:
    """The history's range sums through the cache (same signature as `StatsHistory`'s)."""

    def __init__(self, history: StatsHistory, cache: StatsReadCache) -> None:
        self.history = history
        self.cache = cache

    def range_summary(self, first: date, last: date, group: Group = "day") -> list[PeriodTotals]:
        def load() -> bytes:
            return _PERIODS.dump_json(self.history.range_summary(first, last, group))

        return _PERIODS.validate_json(self.cache.read(range_name(first, last, group), last, load))


class CachedDailyStats:
    """A day's DailyStats item through the cache (`null` when the batch has not stored it)."""

    def __init__(self, reader: DayReader, cache: StatsReadCache) -> None:
        self.reader = reader
        self.cache = cache

    def get(self, day: str) -> dict[str, Any] | None:
        calendar_day = date.fromisoformat(day)

        def load() -> bytes:
            return json.dumps(self.reader.get(day), separators=(",", ":")).encode()

        value: dict[str, Any] | None = json.loads(
            self.cache.read(day_name(calendar_day), calendar_day, load)
        )
        return value
