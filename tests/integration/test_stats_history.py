"""The stats history repository against a private MariaDB server: upserts and range sums."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from courier.data.connections import Database
from courier.stats.history import HistoryDay, InvalidRange, history_day
from courier.stats.history_store import MySqlStatsHistory
from courier.stats.report import ChatNumbers, DailyStats, SmsNumbers, TopRoom


def _stats(day: str, *, jobs: int, delivered: int, failed: int, users: int = 3) -> DailyStats:
    sent = jobs - delivered - failed
    return DailyStats(
        date=day,
        timezone="Asia/Seoul",
        sms=SmsNumbers(
            jobs=jobs,
            by_status={"DELIVERED": delivered, "FAILED": failed, "SENT": sent},
            failed_by_reason={"CARRIER_BLOCKED": failed} if failed else {},
            parts=jobs * 2,
            parts_sent_or_delivered=(delivered + sent) * 2,
            parts_by_status={"DELIVERED": delivered * 2, "FAILED": failed * 2, "SENT": sent * 2},
            by_priority={"bulk": jobs - 1, "transactional": 1},
            by_hour={f"{hour:02d}": (jobs if hour == 9 else 0) for hour in range(24)},
        ),
        chat=ChatNumbers(
            messages=jobs * 10,
            active_users=users,
            active_rooms=2,
            by_room={"lobby": jobs * 6, "support": jobs * 4},
            top_rooms=[TopRoom(room="lobby", messages=jobs * 6)],
        ),
    )


def _day(day: str, **numbers: int) -> HistoryDay:
    return history_day(
        _stats(day, **numbers), report_uri=f"s3://reports/reports/{day}/daily-stats.json"
    )


def test_upserting_a_day_twice_leaves_one_row_with_the_second_numbers(database: Database) -> None:
    # Given a day stored once
    history = MySqlStatsHistory(database)
    history.upsert_day(_day("2026-12-01", jobs=10, delivered=8, failed=1))
    with database.write_transaction() as cursor:
        cursor.execute("SELECT updated_at FROM daily_stats")
        first_update = cursor.fetchone()["updated_at"]

    # When the batch re-runs the day with late receipts counted
    history.upsert_day(_day("2026-12-01", jobs=10, delivered=9, failed=1))

    # Then there is one row, holding the second run's numbers
    stored = history.days(date(2026, 12, 1), date(2026, 12, 1))
    assert [row.day for row in stored] == [date(2026, 12, 1)]
    assert stored[0].sms_delivered == 9
    assert stored[0].delivery_ratio == 0.9
    assert stored[0] == _day("2026-12-01", jobs=10, delivered=9, failed=1)
    with database.write_transaction() as cursor:
        cursor.execute("SELECT COUNT(*) AS n, MAX(updated_at) AS at FROM daily_stats")
        row = cursor.fetchone()
    assert row["n"] == 1
    assert row["at"] >= first_update


def test_a_stored_day_keeps_its_breakdowns_but_not_every_room(database: Database) -> None:
    history = MySqlStatsHistory(database)
    history.upsert_day(_day("2026-12-02", jobs=4, delivered=2, failed=2))

    (stored,) = history.days(date(2026, 12, 2), date(2026, 12, 2), read_your_writes=True)

    assert stored.details["sms"]["failed_by_reason"] == {"CARRIER_BLOCKED": 2}
    assert stored.details["chat"]["top_rooms"] == [{"room": "lobby", "messages": 24}]
    assert "by_room" not in stored.details["chat"]
    assert stored.report_uri == "s3://reports/reports/2026-12-02/daily-stats.json"


def test_days_returns_the_range_oldest_first(database: Database) -> None:
    history = MySqlStatsHistory(database)
    for offset in (3, 0, 2, 5):
        day = (date(2026, 11, 28) + timedelta(days=offset)).isoformat()
        history.upsert_day(_day(day, jobs=offset + 1, delivered=offset, failed=0))

    stored = history.days(date(2026, 11, 29), date(2026, 12, 2))

    assert [row.day for row in stored] == [date(2026, 11, 30), date(2026, 12, 1)]


def test_range_summary_groups_by_day_iso_week_and_month(database: Database) -> None:
    # Given ten days across a month and a year end (2026 has an ISO week 53: Dec 28 - Jan 3)
    history = MySqlStatsHistory(database)
    first = date(2026, 12, 25)
    for offset in range(10):
        day = first + timedelta(days=offset)
        history.upsert_day(
            _day(
                day.isoformat(),
                jobs=10 * (offset + 1),
                delivered=offset + 1,
                failed=1,
                users=offset,
            )
        )
    last = first + timedelta(days=9)  # 2027-01-03

    # When the range is summed by day, week and month
    by_day = history.range_summary(first, last, "day")
    by_week = history.range_summary(first, last, "week")
    by_month = history.range_summary(first, last, "month")

    # Then days are one period each
    assert len(by_day) == 10
    assert by_day[0].period == "2026-12-25"
    assert by_day[0].sms_jobs == 10

    # And weeks are ISO weeks, cut by the range: Dec 25-27 (W52), Dec 28 - Jan 3 (W53)
    assert [(w.period, w.start, w.end, w.first_day, w.days) for w in by_week] == [
        ("2026-W52", date(2026, 12, 21), date(2026, 12, 27), date(2026, 12, 25), 3),
        ("2026-W53", date(2026, 12, 28), date(2027, 1, 3), date(2026, 12, 28), 7),
    ]
    assert by_week[0].sms_jobs == 10 + 20 + 30
    assert by_week[1].sms_jobs == sum(10 * n for n in range(4, 11))

    # And months are calendar months: Dec 25-31 and Jan 1-3
    assert [(m.period, m.end, m.days, m.last_day) for m in by_month] == [
        ("2026-12", date(2026, 12, 31), 7, date(2026, 12, 31)),
        ("2027-01", date(2027, 1, 31), 3, date(2027, 1, 3)),
    ]
    december = by_month[0]
    assert december.sms_jobs == sum(10 * n for n in range(1, 8))
    # The ratio comes from the sums (28 of 280), not from averaging the daily ratios (0.1 each
    # day here: equal by construction, so check a mixed period below too)
    assert december.delivery_ratio == round(28 / 280, 6)
    assert december.failure_ratio == round(7 / 280, 6)
    # Distinct users cannot be added across days: the busiest day counts
    assert december.peak_chat_active_users == 6


def test_a_period_ratio_is_weighted_by_volume_not_averaged(database: Database) -> None:
    # Given a big good day and a tiny bad day in one week
    history = MySqlStatsHistory(database)
    history.upsert_day(_day("2026-11-30", jobs=1000, delivered=990, failed=10))
    history.upsert_day(_day("2026-12-01", jobs=10, delivered=0, failed=10))

    (week,) = history.range_summary(date(2026, 11, 30), date(2026, 12, 6), "week")

    # Then 990 of 1010 were delivered (98.0 %), not the average of 99 % and 0 % (49.5 %)
    assert week.delivery_ratio == round(990 / 1010, 6)
    assert week.sms_failed == 20


def test_an_empty_range_has_no_periods_and_a_bad_range_is_refused(database: Database) -> None:
    history = MySqlStatsHistory(database)

    assert history.range_summary(date(2020, 1, 1), date(2020, 1, 31), "month") == []
    with pytest.raises(InvalidRange, match="ends before"):
        history.range_summary(date(2026, 2, 1), date(2026, 1, 1), "day")
    with pytest.raises(InvalidRange, match="group"):
        history.range_summary(date(2026, 1, 1), date(2026, 1, 2), "year")  # type: ignore[arg-type]
