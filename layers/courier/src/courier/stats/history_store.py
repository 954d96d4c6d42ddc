"""The stats history in Aurora MySQL (MariaDB locally): the `daily_stats` table's repository.

Routing: `upsert_day` writes through the writer; `days` and `range_summary` read through the
reader (replica lag: a day just written may show a moment later there), unless asked for the
writer (`read_your_writes=True`) by a caller that must see its own write.

The upsert is `INSERT ... ON DUPLICATE KEY UPDATE col = VALUES(col)`: MySQL 8.0.20 deprecates
`VALUES()` here in favour of a row alias (`INSERT ... AS new ... UPDATE col = new.col`), which
MariaDB 10.11 does not have; `VALUES()` still works on MySQL 8.0 and 8.4 (with a deprecation
note) and is the one form both servers run. `updated_at` is set explicitly on both paths, since
`ON UPDATE CURRENT_TIMESTAMP` would not move when a re-run writes identical numbers.

A connection lost in the middle of a statement (the database module re-opens only connections
found dead before a transaction) is raised as `DatabaseUnavailable`, like a failed connect:
callers tell "try again later" from a bug by that one type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

from courier.data.errors import DatabaseUnavailable
from courier.stats.history import (
    COUNTERS,
    PEAKS,
    Group,
    HistoryDay,
    PeriodTotals,
    check_range,
    period_totals,
)

if TYPE_CHECKING:
    from courier.data.connections import Database

_VALUE_COLUMNS = ("timezone", *COUNTERS, *PEAKS, "details", "report_uri")
_COLUMNS = ("day", *_VALUE_COLUMNS)

UPSERT_DAY = (
    f"INSERT INTO daily_stats ({', '.join(_COLUMNS)}, updated_at) "  # noqa: S608 - fixed names
    f"VALUES ({', '.join(['%s'] * len(_COLUMNS))}, CURRENT_TIMESTAMP(3)) "
    "ON DUPLICATE KEY UPDATE "
    + ", ".join(f"{column} = VALUES({column})" for column in _VALUE_COLUMNS)
    + ", updated_at = CURRENT_TIMESTAMP(3)"
)

SELECT_DAYS = (
    f"SELECT {', '.join(_COLUMNS)} FROM daily_stats "  # noqa: S608 - fixed names
    "WHERE day BETWEEN %s AND %s ORDER BY day"
)

# The first day of each row's period, in SQL both servers run: WEEKDAY() is 0 on Monday, so the
# week is the ISO week (Monday to Sunday).
_PERIOD_START: dict[Group, str] = {
    "day": "day",
    "week": "DATE_SUB(day, INTERVAL WEEKDAY(day) DAY)",
    "month": "DATE_SUB(day, INTERVAL DAYOFMONTH(day) - 1 DAY)",
}


def _summary_sql(group: Group) -> str:
    sums = ", ".join(f"SUM({column}) AS {column}" for column in COUNTERS)
    peaks = ", ".join(f"MAX({column}) AS {column}" for column in PEAKS)
    return (
        f"SELECT {_PERIOD_START[group]} AS period_start, COUNT(*) AS days, "  # noqa: S608
        f"MIN(day) AS first_day, MAX(day) AS last_day, {sums}, {peaks} "
        "FROM daily_stats WHERE day BETWEEN %s AND %s "
        "GROUP BY period_start ORDER BY period_start"
    )


def _row_values(day: HistoryDay) -> tuple[Any, ...]:
    values = day.model_dump()
    values["details"] = json.dumps(day.details, sort_keys=True, separators=(",", ":"))
    return tuple(values[column] for column in _COLUMNS)


def _history_day(row: dict[str, Any]) -> HistoryDay:
    details = row["details"]
    return HistoryDay.model_validate(
        {**row, "details": json.loads(details) if isinstance(details, str | bytes) else details}
    )


@contextmanager
def _unavailable_on_connection_loss() -> Iterator[None]:
    import pymysql

    from courier.data.connections import CONNECTION_ERRORS

    try:
        yield
    except pymysql.err.OperationalError as error:
        code = error.args[0] if error.args else None
        if code in CONNECTION_ERRORS:
            raise DatabaseUnavailable(f"the database connection was lost: {error}") from error
        raise


class MySqlStatsHistory:
    """The `daily_stats` table through the routing `Database`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def upsert_day(self, day: HistoryDay) -> None:
        """Insert or replace the day's row (writer). Re-running a day rewrites the same row."""
        with _unavailable_on_connection_loss(), self._database.write_transaction() as cursor:
            cursor.execute(UPSERT_DAY, _row_values(day))

    def days(self, first: date, last: date, *, read_your_writes: bool = False) -> list[HistoryDay]:
        """The stored days from `first` to `last` inclusive, oldest first (reader by default)."""
        check_range(first, last)
        transaction = (
            self._database.write_transaction
            if read_your_writes
            else self._database.read_transaction
        )
        with _unavailable_on_connection_loss(), transaction() as cursor:
            cursor.execute(SELECT_DAYS, (first, last))
            return [_history_day(row) for row in cursor.fetchall()]

    def range_summary(self, first: date, last: date, group: Group = "day") -> list[PeriodTotals]:
        """Sums per day, ISO week or calendar month over the stored days of the range (reader).

        A period cut by the range's ends sums only the days inside it: `first_day`, `last_day`
        and `days` say which; `start` and `end` are the whole period's calendar bounds.
        """
        checked = check_range(first, last, group)
        with _unavailable_on_connection_loss(), self._database.read_transaction() as cursor:
            cursor.execute(_summary_sql(checked), (first, last))
            rows = cursor.fetchall()
        return [period_totals(checked, row["period_start"], row) for row in rows]
