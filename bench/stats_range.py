"""A 90-day stats range read through the shared cache against the same read from the database.

What a caller of `GET /api/stats?from&to&group` pays for the periods, on the two paths the API
function has (`courier.stats.wiring.cached_history`):

* uncached: `MySqlStatsHistory.range_summary`, the reader's `GROUP BY` over the range's rows on
  a warm connection, turned into `PeriodTotals` (the best alternative: no cache at all);
* cached: the same call through `CachedStatsHistory` on a warm cache (generation read, value
  read, JSON validated into `PeriodTotals`), with the cache's own client as the function builds
  it from `REDIS_URL` (short timeout, no retry).

Both run against private servers started here: MariaDB 10.11 (the local stand-in for Aurora:
writer and SELECT-only reader accounts, migrated) and a one-node cluster-mode redis-server. The
history holds 400 days with breakdowns shaped like the batch's (`details` ~2 KB a day). Each side
runs `--runs` reads after one warm-up read, interleaved so machine noise hits both; the figures
are medians. Loopback only: in AWS both sides add a network round trip per call (one for the
query, two for a cache hit), so the ratio there is lower than here; the absolute figures say
what the query and the cache cost in CPU.

Also printed as details: the miss (a cold key: lock, query, store) and the `week` and `month`
groupings. Target (ours): speedup >= 3 for the 90-day range by day. Prints
`bench stats-range: ...` and exits 1 when missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import detail, summary

HISTORY_DAYS = 400
RANGE_DAYS = 90
TARGET_SPEEDUP = 3.0
LAST_DAY = date(2026, 11, 30)


def history_rows(days: int) -> list[Any]:
    """`days` stored days ending on LAST_DAY, with breakdowns the size the batch writes."""
    from courier.stats.history import HistoryDay

    rows = []
    for offset in range(days):
        day = LAST_DAY - timedelta(days=offset)
        jobs = 10_000 + 37 * offset
        rows.append(
            HistoryDay(
                day=day,
                timezone="Asia/Seoul",
                sms_jobs=jobs,
                sms_delivered=jobs * 9 // 10,
                sms_failed=jobs // 20,
                sms_sent=jobs - jobs * 9 // 10 - jobs // 20,
                sms_parts=jobs * 13 // 10,
                sms_parts_sent_or_delivered=jobs * 12 // 10,
                sms_bulk=jobs // 2,
                sms_transactional=jobs - jobs // 2,
                chat_messages=4_000 + offset,
                chat_active_users=300 + offset % 50,
                chat_active_rooms=40 + offset % 7,
                details={
                    "schema_version": 1,
                    "sms": {
                        "by_status": {"DELIVERED": jobs * 9 // 10, "FAILED": jobs // 20},
                        "by_hour": {f"{hour:02d}": jobs // 24 for hour in range(24)},
                        "failure_reasons": {f"REASON_{n}": n for n in range(12)},
                    },
                    "chat": {
                        "top_rooms": [{"room": f"room-{n}", "messages": n} for n in range(10)]
                    },
                },
                report_uri=f"s3://courier-stats-reports/reports/{day.isoformat()}.json",
            )
        )
    return rows


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=200, help="timed reads per side (200)")
    args = parser.parse_args(argv)

    from courier.data.connections import open_database
    from courier.data.migrations import apply_migrations
    from courier.settings import Settings
    from courier.stats.history import GROUPS, Group
    from courier.stats.wiring import cached_history
    from local.mariadb_server import mariadb_server
    from local.redis_server import RedisServer

    redis_server = RedisServer()
    redis_server.start()
    try:
        with mariadb_server() as mariadb:
            settings = Settings(
                database_url=mariadb.writer_url,
                database_reader_url=mariadb.reader_url,
                redis_url=redis_server.url,
            )
            database = open_database(settings)
            apply_migrations(database.writer_factory)
            cached = cached_history(database, settings=settings)
            history = cached.history
            for row in history_rows(HISTORY_DAYS):
                history.upsert_day(row)

            first = LAST_DAY - timedelta(days=RANGE_DAYS - 1)
            expected = history.range_summary(first, LAST_DAY, "day")
            assert len(expected) == RANGE_DAYS, f"{len(expected)} periods, not {RANGE_DAYS}"

            # A miss: a cold key (a fresh generation), its lock, the query, the store.
            misses = []
            for _ in range(20):
                cached.cache.invalidate(LAST_DAY)
                misses.append(timed(lambda: cached.range_summary(first, LAST_DAY, "day")))
            # Warm both sides; the cached answer must be the database's.
            assert cached.range_summary(first, LAST_DAY, "day") == expected

            def compare(group: Group) -> tuple[float, float]:
                cached.range_summary(first, LAST_DAY, group)
                uncached_samples, cached_samples = [], []
                for _ in range(args.runs):
                    uncached_samples.append(
                        timed(lambda: history.range_summary(first, LAST_DAY, group))
                    )
                    cached_samples.append(
                        timed(lambda: cached.range_summary(first, LAST_DAY, group))
                    )
                return median_ms(uncached_samples), median_ms(cached_samples)

            results = {group: compare(group) for group in GROUPS}
            counts = cached.cache.take_counts()
            database.close()
    finally:
        redis_server.stop()

    for group, (uncached_ms, cached_ms) in results.items():
        detail(
            f"group={group}: uncached {uncached_ms:.3f} ms, cached {cached_ms:.3f} ms, "
            f"speedup {uncached_ms / cached_ms:.1f}x (median of {args.runs})"
        )
    detail(f"miss (lock + query + store): {median_ms(misses):.3f} ms (median of {len(misses)})")
    detail(f"cache counts: {counts}")
    uncached_ms, cached_ms = results["day"]
    speedup = uncached_ms / cached_ms
    met = speedup >= TARGET_SPEEDUP
    summary(
        "stats-range",
        {
            "days": RANGE_DAYS,
            "group": "day",
            "cached_ms": f"{cached_ms:.3f}",
            "uncached_ms": f"{uncached_ms:.3f}",
            "speedup": f"{speedup:.1f}",
            "miss_ms": f"{median_ms(misses):.3f}",
            "target_speedup": f"{TARGET_SPEEDUP:g}",
            "target": "met" if met else "MISSED",
        },
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
