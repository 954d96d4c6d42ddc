"""GET /api/stats?from&to&group through the Lambda handler, against the private MariaDB's history
and the session's cluster-mode redis-server as the shared stats cache.

The history is filled by the publish step itself (plan → aggregate → publish of a seeded day) or
by the repository for the other days; the cache is the real Redis, or a closed port for outages.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import redis

import aggregate
import app as api_handler
import plan
import publish
from courier.data.connections import Database, shared_database
from courier.http_api import wiring
from courier.settings import get_settings
from courier.stats import wiring as stats_wiring
from courier.stats.history import Group, HistoryDay, PeriodTotals, history_day
from courier.stats.history_store import MySqlStatsHistory
from courier.stats.read_cache import GENERATION_KEY, KEY_PREFIX
from courier.stats.report import ChatNumbers, DailyStats, SmsNumbers
from local.redis_server import free_port
from tests.harness import FakeLambdaContext, load_event
from tests.integration.stats_day import CONTEXT, DAY, Stack, seed_chat, seed_sms

ORIGIN_SECRET = "local-origin-secret"
HTTP_CACHES = (wiring.stats_reader, wiring.stats_cache, wiring.stats_history)


@pytest.fixture(autouse=True)
def _api_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", ORIGIN_SECRET)
    for cached in HTTP_CACHES:
        cached.cache_clear()
    yield
    for cached in HTTP_CACHES:
        cached.cache_clear()


@pytest.fixture
def cache_url(stack: Stack, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The session's redis-server, flushed, as the stats cache of the API and the publisher."""
    redis.Redis.from_url(redis_url).flushdb()
    monkeypatch.setenv("REDIS_URL", redis_url)
    stats_wiring.stats_cache.cache_clear()
    stats_wiring.stats_publisher.cache_clear()
    return redis_url


@pytest.fixture
def cache_counts(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, int]]:
    """The cache counts each request hands to the metrics, one dict per request."""
    from courier.http_api import stats_routes

    seen: list[dict[str, int]] = []
    monkeypatch.setattr(
        stats_routes, "record_cache_metrics", lambda cache: seen.append(cache.take_counts())
    )
    return seen


def call(query: dict[str, str] | None, name: str = "get-stats-range") -> tuple[int, Any]:
    """The handler's answer to the events/api file with `query` as its query string."""
    event = copy.deepcopy(load_event(f"api/{name}.json"))
    if query is not None:
        event["queryStringParameters"] = query or None
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    response = api_handler.handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response.get("body") or "null")


def stats(day: str, jobs: int, delivered: int, users: int = 2) -> DailyStats:
    failed = 1 if jobs > delivered else 0
    return DailyStats(
        date=day,
        timezone="Asia/Seoul",
        sms=SmsNumbers(
            jobs=jobs,
            by_status={"DELIVERED": delivered, "FAILED": failed, "SENT": jobs - delivered - failed},
            failed_by_reason={"OPTED_OUT": failed} if failed else {},
            parts=jobs,
            parts_sent_or_delivered=jobs - failed,
            parts_by_status={"DELIVERED": delivered},
            by_priority={"bulk": jobs},
            by_hour={f"{hour:02d}": 0 for hour in range(24)},
        ),
        chat=ChatNumbers(
            messages=jobs, active_users=users, active_rooms=1, by_room={}, top_rooms=[]
        ),
    )


def store_days(database: Database, days: dict[str, tuple[int, int]]) -> None:
    history = MySqlStatsHistory(database)
    for day, (jobs, delivered) in days.items():
        history.upsert_day(history_day(stats(day, jobs, delivered), report_uri=f"s3://r/{day}"))


def publish_seeded_day() -> dict[str, Any]:
    """What the state machine does for one backfilled day: plan, the shard Map, publish."""
    [day] = plan.handler({"date": DAY}, CONTEXT)["days"]
    run = "range-test"
    partials = [aggregate.handler({**task, "run": run}, CONTEXT) for task in day["shards"]]
    result: dict[str, Any] = publish.handler(
        {"date": DAY, "run": run, "partials": partials}, CONTEXT
    )
    return result


class CountingHistory:
    """The history repository, counting (and optionally slowing) its range queries."""

    def __init__(self, history: MySqlStatsHistory, delay: float = 0.0) -> None:
        self._history = history
        self._delay = delay
        self._lock = threading.Lock()
        self.queries = 0

    def upsert_day(self, day: HistoryDay) -> None:
        self._history.upsert_day(day)

    def days(self, first: date, last: date) -> list[HistoryDay]:
        return self._history.days(first, last)

    def range_summary(self, first: date, last: date, group: Group) -> list[PeriodTotals]:
        with self._lock:
            self.queries += 1
            time.sleep(self._delay)
            return self._history.range_summary(first, last, group)


def count_queries(delay: float = 0.0) -> CountingHistory:
    """Put a counter between the API's cached history and the repository."""
    cached = wiring.stats_history(get_settings())
    counting = CountingHistory(MySqlStatsHistory(shared_database()), delay)
    cached.history = counting
    return counting


# ---- the route --------------------------------------------------------------------------------


def test_a_published_day_and_stored_days_come_back_grouped_by_week(stack: Stack) -> None:
    # Given the batch published 2026-11-24 (27 jobs, 22 delivered, 3 failed) and the history
    # holds two more days of November: Monday the 23rd (same ISO week) and Sunday the 1st
    seed_sms()
    seed_chat()
    published = publish_seeded_day()
    store_days(stack.database, {"2026-11-23": (10, 9), "2026-11-01": (4, 4)})

    # When the month is read per ISO week
    status, body = call({"from": "2026-11-01", "to": "2026-11-30", "group": "week"})

    # Then two weeks come back, the 24th's counters summed with the 23rd's
    assert status == 200
    assert {k: body[k] for k in ("from", "to", "group", "timezone")} == {
        "from": "2026-11-01",
        "to": "2026-11-30",
        "group": "week",
        "timezone": "Asia/Seoul",
    }
    first, second = body["periods"]
    assert (first["period"], first["start"], first["end"]) == (
        "2026-W44",
        "2026-10-26",
        "2026-11-01",
    )
    assert (first["first_day"], first["last_day"], first["days"]) == ("2026-11-01",) * 2 + (1,)
    assert (second["period"], second["first_day"], second["last_day"]) == (
        "2026-W48",
        "2026-11-23",
        "2026-11-24",
    )
    assert second["days"] == 2
    assert second["sms_jobs"] == 27 + 10
    assert second["sms_delivered"] == 22 + 9
    assert second["sms_failed"] == 3 + 1
    assert second["chat_messages"] == 12 + 10
    assert second["peak_chat_active_users"] == 6  # the 24th's, not a sum
    assert second["delivery_ratio"] == round(31 / 37, 6)
    assert set(second) == set(PeriodTotals.model_fields)
    # The publish step stored the day with its JSON report's URI
    (row,) = MySqlStatsHistory(stack.database).days(date(2026, 11, 24), date(2026, 11, 24))
    assert row.report_uri == published["report_json"]


def test_group_defaults_to_day_and_months_sum_across_the_year_end(stack: Stack) -> None:
    store_days(stack.database, {"2026-12-31": (5, 5), "2027-01-01": (3, 2), "2027-01-02": (2, 2)})

    _, by_day = call({"from": "2026-12-31", "to": "2027-01-02"})
    _, by_month = call({"from": "2026-12-31", "to": "2027-01-02", "group": "month"})

    assert by_day["group"] == "day"
    assert [p["period"] for p in by_day["periods"]] == ["2026-12-31", "2027-01-01", "2027-01-02"]
    assert [(p["period"], p["sms_jobs"]) for p in by_month["periods"]] == [
        ("2026-12", 5),
        ("2027-01", 5),
    ]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"from": "2026-11-31", "to": "2026-12-01"}, "invalid_date"),
        ({"from": "2026-11-01", "to": "tomorrow"}, "invalid_date"),
        ({"from": "2026-12-01", "to": "2026-11-30"}, "invalid_range"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "invalid_range"),
        ({"from": "2026-11-01", "to": "2026-11-30", "group": "quarter"}, "invalid_range"),
    ],
)
def test_bad_ranges_are_400_with_a_reason(stack: Stack, query: dict[str, str], code: str) -> None:
    status, body = call(query)

    assert (status, body["code"]) == (400, code)
    assert body["message"]


def test_a_missing_bound_is_a_validation_error(stack: Stack) -> None:
    status, body = call({"from": "2026-11-01"})

    assert (status, body["code"]) == (422, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["query.to"]


def test_an_unreachable_database_is_503(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a reader URL pointing at a closed port
    monkeypatch.setenv("DATABASE_READER_URL", f"mysql://reader:x@127.0.0.1:{free_port()}/courier")
    monkeypatch.setenv("DATABASE_CONNECT_TIMEOUT_SECONDS", "0.5")
    get_settings.cache_clear()
    shared_database.cache_clear()

    status, body = call({"from": "2026-11-01", "to": "2026-11-30"})

    assert (status, body["code"]) == (503, "database_unavailable")


# ---- the shared cache (the session's cluster-mode redis-server) ------------------------------

NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30", "group": "week"}


def test_a_second_read_of_a_range_is_served_by_the_cache_without_sql(
    stack: Stack, cache_url: str, cache_counts: list[dict[str, int]]
) -> None:
    # Given stored days and a cold cache
    store_days(stack.database, {"2026-11-02": (8, 7), "2026-11-24": (3, 3)})
    queries = count_queries()

    # When the range is read twice
    first = call(NOVEMBER)
    second = call(NOVEMBER)

    # Then one SQL query answered both, and the value sits under a namespaced key with a TTL
    assert first == second
    assert first[0] == 200
    assert [p["sms_jobs"] for p in first[1]["periods"]] == [8, 3]
    assert queries.queries == 1
    client = redis.Redis.from_url(cache_url)
    generation = client.get(GENERATION_KEY)
    assert generation
    key = f"{KEY_PREFIX}:{generation.decode()}:range:2026-11-01:2026-11-30:week"
    assert 0 < client.pttl(key) <= 24 * 3600 * 1000
    assert cache_counts == [{"miss": 1}, {"hit": 1}]


def test_publishing_a_day_inside_a_cached_range_invalidates_it(
    stack: Stack, cache_url: str
) -> None:
    # Given a cached November (without the 24th) and a cached 404 for the 24th
    seed_sms()
    seed_chat()
    store_days(stack.database, {"2026-11-02": (8, 7)})
    queries = count_queries()
    _, before = call(NOVEMBER)
    assert [p["sms_jobs"] for p in before["periods"]] == [8]
    day_status, _ = call(None, name="get-stats")
    assert day_status == 404
    assert call(NOVEMBER)[1] == before
    assert queries.queries == 1  # cached

    # When the batch publishes the 24th
    publish_seeded_day()

    # Then the range and the day are read afresh and show it
    _, after = call(NOVEMBER)
    assert [p["sms_jobs"] for p in after["periods"]] == [8, 27]
    assert queries.queries == 2
    day_status, day = call(None, name="get-stats")
    assert (day_status, day["sms"]["jobs"]) == (200, 27)


def test_a_days_item_is_read_from_dynamodb_once(
    stack: Stack, cache_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_sms()
    seed_chat()
    publish_seeded_day()
    reader = wiring.stats_reader(get_settings())
    reads: list[str] = []
    original = reader.get

    def counted(day: str) -> dict[str, Any] | None:
        reads.append(day)
        return original(day)

    monkeypatch.setattr(reader, "get", counted)

    first = call(None, name="get-stats")
    second = call(None, name="get-stats")

    assert first == second
    assert first[1]["sms"]["jobs"] == 27
    assert reads == [DAY]


def test_with_redis_down_the_same_answer_comes_from_the_database(
    stack: Stack,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    cache_counts: list[dict[str, int]],
) -> None:
    # Given the answer with a working cache
    store_days(stack.database, {"2026-11-02": (8, 7), "2026-11-24": (3, 3)})
    redis.Redis.from_url(redis_url).flushdb()
    monkeypatch.setenv("REDIS_URL", redis_url)
    expected = call(NOVEMBER)

    # When the cache's address is a closed port
    for cached in HTTP_CACHES:
        cached.cache_clear()
    get_settings.cache_clear()
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    queries = count_queries()
    started = time.monotonic()
    answers = [call(NOVEMBER) for _ in range(3)]
    elapsed = time.monotonic() - started

    # Then every read is the database's answer, no error; the cache was tried once only
    assert answers == [expected] * 3
    assert queries.queries == 3
    assert elapsed < 2.0
    assert cache_counts[1:] == [{"error": 1}, {"bypass": 1}, {"bypass": 1}]


def test_concurrent_readers_of_a_cold_range_make_one_query(stack: Stack, cache_url: str) -> None:
    # Given a cold cache and a query that takes 300 ms
    store_days(stack.database, {f"2026-10-{day:02d}": (day, day) for day in range(1, 32)})
    queries = count_queries(delay=0.3)
    history = wiring.stats_history(get_settings())
    results: list[list[PeriodTotals]] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            results.append(history.range_summary(date(2026, 10, 1), date(2026, 10, 31), "month"))
        except BaseException as error:  # the test reports it below
            errors.append(error)

    # When eight readers ask for the same range at once
    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    # Then one of them queried the database, the others waited for its value
    assert errors == []
    assert len(results) == 8
    assert queries.queries == 1
    assert all(result == results[0] for result in results)
    assert results[0][0].sms_jobs == sum(range(1, 32))
    counts = history.cache.take_counts()
    assert (counts["miss"], counts.get("wait_hit", 0)) == (8, 7)


def test_a_redis_that_accepts_but_never_answers_costs_one_short_timeout(stack: Stack) -> None:
    # Given a "Redis" that takes connections and never replies (a hung or overloaded node)
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        port = silent.getsockname()[1]
        settings = dataclasses.replace(
            get_settings(),
            redis_url=f"redis://127.0.0.1:{port}/0",
            stats_cache_timeout_seconds=0.2,
        )
        store_days(stack.database, {"2026-10-05": (4, 4)})
        cached = stats_wiring.cached_history(stack.database, settings=settings)

        # When a range is read twice
        started = time.monotonic()
        first = cached.range_summary(date(2026, 10, 1), date(2026, 10, 31), "day")
        first_seconds = time.monotonic() - started
        started = time.monotonic()
        second = cached.range_summary(date(2026, 10, 1), date(2026, 10, 31), "day")
        second_seconds = time.monotonic() - started
    finally:
        silent.close()

    # Then both come from the database; the first paid the timeout (and its one retry), the
    # second skipped the cache during the back-off
    assert [p.sms_jobs for p in first] == [p.sms_jobs for p in second] == [4]
    assert 0.2 <= first_seconds < 1.5
    assert second_seconds < 0.2
    assert cached.cache.take_counts() == {"error": 1, "bypass": 1}
