"""The stats read cache on an in-memory cache port: keys, TTLs by age, generations, the miss lock,
outages; the Redis adapter's error mapping; the range route's validation (no database reached)."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from courier.stats.history import COUNTERS, PEAKS, Group, PeriodTotals, period_totals
from courier.stats.read_cache import (
    GENERATION_KEY,
    CachedDailyStats,
    CachedStatsHistory,
    CacheTtls,
    CacheUnavailable,
    StatsReadCache,
    day_name,
    range_name,
    value_key,
)
from courier.stats.redis_cache import RedisStatsCache
from local.redis_server import free_port
from tests.harness import FakeLambdaContext, load_event

SEOUL = ZoneInfo("Asia/Seoul")
# 00:30 on 2026-12-03 in Seoul is still the 2nd in UTC: "today" must be the 3rd.
NOW = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
TTLS = CacheTtls(open_seconds=60, recent_seconds=600, closed_seconds=86400, recent_days=4)


class MemoryCache:
    """The cache port in memory: values with their TTLs; `down` makes every command fail."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.ttls: dict[str, int | None] = {}
        self.down = False
        self.commands: list[str] = []
        self._lock = threading.Lock()

    def _check(self, command: str) -> None:
        self.commands.append(command)
        if self.down:
            raise CacheUnavailable("ConnectionError: connection refused")

    def get(self, key: str) -> bytes | None:
        self._check(f"get {key}")
        return self.values.get(key)

    def set(self, key: str, value: bytes, *, ttl_ms: int | None) -> None:
        self._check(f"set {key}")
        self.values[key], self.ttls[key] = value, ttl_ms

    def add(self, key: str, value: bytes, *, ttl_ms: int | None) -> bool:
        self._check(f"add {key}")
        with self._lock:
            if key in self.values:
                return False
            self.values[key], self.ttls[key] = value, ttl_ms
            return True

    def delete_if(self, key: str, value: bytes) -> None:
        self._check(f"delete_if {key}")
        with self._lock:
            if self.values.get(key) == value:
                del self.values[key]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def read_cache(
    cache: MemoryCache | None, clock: Clock | None = None, **options: Any
) -> StatsReadCache:
    clock = clock or Clock()
    return StatsReadCache(
        cache,
        ttls=TTLS,
        zone=SEOUL,
        clock=lambda: NOW,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        **options,
    )


def totals(day: str, jobs: int) -> PeriodTotals:
    sums = {name: 0 for name in (*COUNTERS, *PEAKS)} | {
        "sms_jobs": jobs,
        "sms_delivered": jobs,
        "days": 1,
        "first_day": date.fromisoformat(day),
        "last_day": date.fromisoformat(day),
    }
    return period_totals("day", date.fromisoformat(day), sums)


class History:
    """A history port answering fixed periods and counting its queries."""

    def __init__(self, periods: list[PeriodTotals]) -> None:
        self.periods = periods
        self.queries = 0

    def upsert_day(self, day: Any) -> None:
        raise NotImplementedError

    def days(self, first: date, last: date) -> list[Any]:
        raise NotImplementedError

    def range_summary(self, first: date, last: date, group: Group) -> list[PeriodTotals]:
        self.queries += 1
        return list(self.periods)


# ---- keys and TTLs ----------------------------------------------------------------------------


def test_keys_are_namespaced_versioned_and_carry_the_generation() -> None:
    assert GENERATION_KEY == "courier:stats:v1:generation"
    assert range_name(date(2026, 11, 1), date(2026, 11, 30), "week") == (
        "range:2026-11-01:2026-11-30:week"
    )
    assert value_key("ab12", day_name(date(2026, 11, 24))) == "courier:stats:v1:ab12:day:2026-11-24"


@pytest.mark.parametrize(
    ("last_day", "seconds"),
    [
        (date(2026, 12, 4), 60),  # the future: still open
        (date(2026, 12, 3), 60),  # today in Seoul (the 2nd in UTC)
        (date(2026, 12, 2), 600),  # yesterday: recounted for late receipts
        (date(2026, 11, 29), 600),  # the oldest day the scheduled run still recounts
        (date(2026, 11, 28), 86400),  # closed
        (date(2025, 1, 1), 86400),
    ],
)
def test_the_ttl_follows_the_age_of_the_newest_day_in_the_service_timezone(
    last_day: date, seconds: int
) -> None:
    assert read_cache(MemoryCache()).ttl_seconds(last_day) == seconds


# ---- read-through and invalidation ------------------------------------------------------------


def test_a_miss_reads_the_database_once_then_hits_with_the_ttl_of_its_age() -> None:
    # Given a closed October in the history (today is 2026-12-03 in Seoul)
    cache = MemoryCache()
    history = History([totals("2026-10-02", 5), totals("2026-10-03", 7)])
    cached = CachedStatsHistory(history, read_cache(cache))

    # When the range is read twice
    first = cached.range_summary(date(2026, 10, 1), date(2026, 10, 31), "day")
    second = cached.range_summary(date(2026, 10, 1), date(2026, 10, 31), "day")

    # Then the database answered once, the value is kept for a day, and the lock is gone
    assert history.queries == 1
    assert first == second == history.periods
    generation = cache.values[GENERATION_KEY].decode()
    key = f"courier:stats:v1:{generation}:range:2026-10-01:2026-10-31:day"
    assert cache.ttls[key] == 86400 * 1000
    assert cache.ttls[GENERATION_KEY] is None
    assert not [k for k in cache.values if k.endswith(":lock")]
    assert cached.cache.take_counts() == {"miss": 1, "hit": 1}


def test_an_empty_answer_is_kept_only_briefly() -> None:
    cache = MemoryCache()
    CachedStatsHistory(History([]), read_cache(cache)).range_summary(
        date(2025, 1, 1), date(2025, 1, 31), "day"
    )
    CachedDailyStats(_DayReader(None), read_cache(cache)).get("2025-01-05")

    kept = [key for key in cache.values if key != GENERATION_KEY]
    assert sorted(cache.ttls[key] for key in kept) == [
        60_000,
        60_000,
    ]


class _DayReader:
    def __init__(self, item: dict[str, Any] | None) -> None:
        self.item = item
        self.reads = 0

    def get(self, day: str) -> dict[str, Any] | None:
        self.reads += 1
        return self.item


def test_a_day_is_cached_and_a_missing_day_too() -> None:
    cache = MemoryCache()
    present = _DayReader({"date": "2026-11-24", "sms": {"jobs": 3}})
    absent = _DayReader(None)
    days = CachedDailyStats(present, read_cache(cache))
    missing = CachedDailyStats(absent, read_cache(cache))

    assert days.get("2026-11-24") == days.get("2026-11-24") == present.item
    assert missing.get("2026-11-20") is missing.get("2026-11-20") is None
    assert (present.reads, absent.reads) == (1, 1)


def test_invalidating_a_day_makes_every_cached_read_stale() -> None:
    # Given a cached range and a cached day
    cache = MemoryCache()
    history = History([totals("2026-11-02", 5)])
    reads = read_cache(cache)
    cached = CachedStatsHistory(history, reads)
    reader = _DayReader({"date": "2025-03-01"})
    days = CachedDailyStats(reader, reads)
    cached.range_summary(date(2025, 1, 1), date(2026, 11, 30), "month")
    days.get("2025-03-01")
    before = cache.values[GENERATION_KEY]

    # When the batch writes an old day (a backfill)
    assert reads.invalidate(date(2025, 3, 1)) is True

    # Then the generation changed and both reads go to their stores again
    assert cache.values[GENERATION_KEY] != before
    history.periods = [totals("2026-11-02", 6)]
    assert cached.range_summary(date(2025, 1, 1), date(2026, 11, 30), "month")[0].sms_jobs == 6
    days.get("2025-03-01")
    assert (history.queries, reader.reads) == (2, 2)


def test_a_lost_generation_key_is_replaced_by_a_fresh_token_not_an_old_one() -> None:
    cache = MemoryCache()
    reads = read_cache(cache)
    cached = CachedStatsHistory(History([totals("2026-11-02", 5)]), reads)
    cached.range_summary(date(2026, 11, 1), date(2026, 11, 30), "day")
    old = cache.values.pop(GENERATION_KEY)  # evicted

    cached.range_summary(date(2026, 11, 1), date(2026, 11, 30), "day")

    assert cache.values[GENERATION_KEY] not in (old, b"0", b"1")
    assert reads.take_counts()["miss"] == 2


def test_the_cache_is_off_without_a_client() -> None:
    history = History([totals("2026-11-02", 5)])
    reads = read_cache(None)
    cached = CachedStatsHistory(history, reads)

    cached.range_summary(date(2026, 11, 1), date(2026, 11, 30), "day")
    cached.range_summary(date(2026, 11, 1), date(2026, 11, 30), "day")

    assert history.queries == 2
    assert reads.invalidate(date(2026, 11, 2)) is False
    assert reads.take_counts() == {"bypass": 2}


# ---- stampede protection ----------------------------------------------------------------------


def test_a_reader_that_finds_the_lock_waits_for_the_value() -> None:
    # Given another reader holds the miss lock and stores the value while this one waits
    cache, clock = MemoryCache(), Clock()
    reads = read_cache(cache, clock, wait_ms=1000)
    generation = b"g1"
    cache.values[GENERATION_KEY] = generation
    key = value_key("g1", range_name(date(2026, 11, 1), date(2026, 11, 30), "day"))
    cache.values[f"{key}:lock"] = b"other"
    stored = json.dumps([totals("2026-11-02", 9).model_dump(mode="json")]).encode()

    def other_reader_finishes(seconds: float) -> None:
        clock.now += seconds
        if clock.now >= 0.1:
            cache.values[key] = stored
            cache.values.pop(f"{key}:lock", None)

    reads._sleep = other_reader_finishes
    history = History([])

    # When this reader asks for the same range
    result = CachedStatsHistory(history, reads).range_summary(
        date(2026, 11, 1), date(2026, 11, 30), "day"
    )

    # Then it got the other reader's value without a query
    assert history.queries == 0
    assert result[0].sms_jobs == 9
    assert reads.take_counts() == {"miss": 1, "wait_hit": 1}


def test_a_reader_stops_waiting_when_the_lock_holder_gives_up_or_takes_too_long() -> None:
    cache, clock = MemoryCache(), Clock()
    reads = read_cache(cache, clock, wait_ms=500)
    cache.values[GENERATION_KEY] = b"g1"
    key = value_key("g1", range_name(date(2026, 11, 1), date(2026, 11, 30), "day"))
    cache.values[f"{key}:lock"] = b"stuck"  # its holder never stores a value
    history = History([totals("2026-11-02", 5)])

    CachedStatsHistory(history, reads).range_summary(date(2026, 11, 1), date(2026, 11, 30), "day")

    assert history.queries == 1
    assert 0.5 <= clock.now < 0.6  # waited wait_ms, then read the database itself
    assert reads.take_counts() == {"miss": 1, "wait_timeout": 1}
    assert cache.values[f"{key}:lock"] == b"stuck"  # not its lock: left alone


def test_a_failed_load_releases_the_lock_and_raises() -> None:
    cache = MemoryCache()
    reads = read_cache(cache)

    def fail() -> bytes:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        reads.read("range:x", date(2026, 11, 30), fail)
    assert not [k for k in cache.values if k.endswith(":lock")]


# ---- outages ----------------------------------------------------------------------------------


def test_an_unreachable_cache_is_a_database_read_and_is_skipped_for_a_while() -> None:
    # Given the cache is down
    cache, clock = MemoryCache(), Clock()
    cache.down = True
    reads = read_cache(cache, clock, retry_after_seconds=10)
    history = History([totals("2026-11-02", 5)])
    cached = CachedStatsHistory(history, reads)

    # When ranges are read, now and within the back-off
    first = cached.range_summary(date(2026, 11, 1), date(2026, 11, 30), "day")
    cached.range_summary(date(2026, 11, 1), date(2026, 11, 30), "day")
    tried = len(cache.commands)

    # Then both came from the database; the second did not try the cache
    assert first == history.periods
    assert history.queries == 2
    assert tried == 1
    assert reads.take_counts() == {"error": 1, "bypass": 1}

    # And once the back-off is over and the cache is back, it is used again
    clock.now += 11
    cache.down = False
    cached.range_summary(date(2026, 11, 1), date(2026, 11, 30), "day")
    assert reads.take_counts() == {"miss": 1}


def test_an_invalidation_that_cannot_reach_the_cache_is_counted_not_raised() -> None:
    cache = MemoryCache()
    cache.down = True
    reads = read_cache(cache)

    assert reads.invalidate(date(2026, 11, 24)) is False
    assert reads.take_counts() == {"invalidate_error": 1}


def test_counts_become_stats_cache_metrics() -> None:
    from courier.observability import metrics
    from courier.stats.wiring import record_cache_metrics

    cache = MemoryCache()
    reads = read_cache(cache)
    CachedDailyStats(_DayReader(None), reads).get("2026-11-20")
    CachedDailyStats(_DayReader(None), reads).get("2026-11-20")
    cache.down = True
    reads.invalidate(date(2026, 11, 20))
    metrics.clear_metrics()
    try:
        record_cache_metrics(reads)
        recorded = {name: metric["Value"] for name, metric in metrics.metric_set.items()}
    finally:
        metrics.clear_metrics()

    assert recorded == {
        "StatsCacheHit": [1.0],
        "StatsCacheMiss": [1.0],
        "StatsCacheInvalidateError": [1.0],
    }
    assert reads.take_counts() == {}


def test_the_redis_adapter_maps_a_closed_port_and_a_failed_open_to_cache_unavailable() -> None:
    import redis

    closed = redis.Redis(port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2)
    with pytest.raises(CacheUnavailable, match="ConnectionError"):
        RedisStatsCache(closed).get("courier:stats:v1:generation")

    def no_secret() -> redis.Redis:
        raise RuntimeError("secret not readable")

    with pytest.raises(CacheUnavailable, match="secret not readable"):
        RedisStatsCache(no_secret).set("k", b"v", ttl_ms=None)


# ---- the route's validation (answered before any store is reached) ----------------------------


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Callable[[dict[str, str]], tuple[int, Any]]:
    import app as api_handler

    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", "local-origin-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-northeast-2")

    def call(query: dict[str, str]) -> tuple[int, Any]:
        event = copy.deepcopy(load_event("api/get-stats-range.json"))
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
        response = api_handler.handler(event, FakeLambdaContext())
        return response["statusCode"], json.loads(response["body"])

    return call


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ({"from": "2026-02-29", "to": "2026-03-01"}, "invalid_date", "from must be a day"),
        ({"from": "2026-03-01", "to": "2026-3-2"}, "invalid_date", "to must be a day"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "invalid_range", "ends before it starts"),
        ({"from": "2024-01-01", "to": "2026-01-02"}, "invalid_range", "at most 732 days"),
        ({"from": "2026-03-01", "to": "2026-03-02", "group": "year"}, "invalid_range", "day, week"),
    ],
)
def test_bad_ranges_are_refused_before_any_read(
    api: Callable[[dict[str, str]], tuple[int, Any]], query: dict[str, str], code: str, message: str
) -> None:
    status, body = api(query)

    assert (status, body["code"]) == (400, code)
    assert message in body["message"]
