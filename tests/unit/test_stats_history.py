"""The stats history's periods and range checks (pure functions, no database)."""

from __future__ import annotations

from datetime import date

import pytest

from courier.stats.history import (
    InvalidRange,
    check_range,
    period_end,
    period_label,
    period_start,
)


@pytest.mark.parametrize(
    ("day", "group", "start", "end", "label"),
    [
        (date(2026, 12, 3), "day", date(2026, 12, 3), date(2026, 12, 3), "2026-12-03"),
        # Thursday 2026-12-03 is in the ISO week from Monday Nov 30 to Sunday Dec 6
        (date(2026, 12, 3), "week", date(2026, 11, 30), date(2026, 12, 6), "2026-W49"),
        # Jan 1 2027 belongs to ISO week 53 of 2026 (its Monday is Dec 28, 2026)
        (date(2027, 1, 1), "week", date(2026, 12, 28), date(2027, 1, 3), "2026-W53"),
        # Dec 31 2029 (a Monday) starts ISO week 1 of 2030
        (date(2029, 12, 31), "week", date(2029, 12, 31), date(2030, 1, 6), "2030-W01"),
        (date(2028, 2, 15), "month", date(2028, 2, 1), date(2028, 2, 29), "2028-02"),
        (date(2026, 12, 31), "month", date(2026, 12, 1), date(2026, 12, 31), "2026-12"),
    ],
)
def test_periods(day: date, group: str, start: date, end: date, label: str) -> None:
    checked = check_range(day, day, group)
    assert period_start(day, checked) == start
    assert period_end(start, checked) == end
    assert period_label(start, checked) == label


def test_ranges_that_cannot_be_answered_are_refused_with_a_reason() -> None:
    with pytest.raises(InvalidRange, match="ends before it starts"):
        check_range(date(2026, 2, 1), date(2026, 1, 31))
    with pytest.raises(InvalidRange, match="at most 732 days"):
        check_range(date(2020, 1, 1), date(2026, 1, 1))
    with pytest.raises(InvalidRange, match="day, week, month"):
        check_range(date(2026, 1, 1), date(2026, 1, 1), "quarter")
    assert check_range(date(2024, 1, 1), date(2025, 12, 31), "month") == "month"
