"""The daily stats history: one row per day, and sums over day, ISO-week or month periods.

The stats batch's publish step stores each day (`history_day`); the stats API reads ranges. A
range's ratios are recomputed from the period's sums (delivered / jobs), never averaged from the
daily ratios, so a quiet day weighs what it weighs. Active users and rooms are distinct counts
per day and cannot be added across days: a period reports its busiest day's figure (peak).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, NonNegativeInt

from courier.stats.report import DailyStats

Group = Literal["day", "week", "month"]
GROUPS: tuple[Group, ...] = ("day", "week", "month")
# Longest range one request may ask for: two years of days, a few KB per day.
MAX_RANGE_DAYS = 732


class InvalidRange(ValueError):
    """A range that ends before it starts, is too long, or names an unknown grouping."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Counters(_Frozen):
    """The summable counters a day stores and a period sums, in the table's column order."""

    sms_jobs: NonNegativeInt
    sms_delivered: NonNegativeInt
    sms_failed: NonNegativeInt
    sms_sent: NonNegativeInt
    sms_parts: NonNegativeInt
    sms_parts_sent_or_delivered: NonNegativeInt
    sms_bulk: NonNegativeInt
    sms_transactional: NonNegativeInt
    chat_messages: NonNegativeInt


COUNTERS = tuple(_Counters.model_fields)
PEAKS = ("chat_active_users", "chat_active_rooms")


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


class HistoryDay(_Counters):
    """One stored day: the counters, the day's breakdowns (`details`) and its report's URI."""

    day: date
    timezone: str
    chat_active_users: NonNegativeInt
    chat_active_rooms: NonNegativeInt
    details: dict[str, Any]
    report_uri: str = ""

    @property
    def delivery_ratio(self) -> float | None:
        return _ratio(self.sms_delivered, self.sms_jobs)

    @property
    def failure_ratio(self) -> float | None:
        return _ratio(self.sms_failed, self.sms_jobs)


def history_day(stats: DailyStats, *, report_uri: str = "") -> HistoryDay:
    """The row for a day's merged numbers (the JSON report, without the unbounded `by_room`)."""
    sms, chat = stats.sms, stats.chat
    return HistoryDay(
        day=date.fromisoformat(stats.date),
        timezone=stats.timezone,
        sms_jobs=sms.jobs,
        sms_delivered=sms.by_status.get("DELIVERED", 0),
        sms_failed=sms.by_status.get("FAILED", 0),
        sms_sent=sms.by_status.get("SENT", 0),
        sms_parts=sms.parts,
        sms_parts_sent_or_delivered=sms.parts_sent_or_delivered,
        sms_bulk=sms.by_priority.get("bulk", 0),
        sms_transactional=sms.by_priority.get("transactional", 0),
        chat_messages=chat.messages,
        chat_active_users=chat.active_users,
        chat_active_rooms=chat.active_rooms,
        details={
            "schema_version": stats.schema_version,
            "sms": sms.model_dump(mode="json"),
            "chat": chat.model_dump(mode="json", exclude={"by_room"}),
        },
        report_uri=report_uri,
    )


def period_start(day: date, group: Group) -> date:
    """The first day of the period holding `day`: itself, its ISO week's Monday, its month's 1st."""
    if group == "day":
        return day
    if group == "week":
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def period_end(start: date, group: Group) -> date:
    """The last calendar day of the period starting on `start`."""
    if group == "day":
        return start
    if group == "week":
        return start + timedelta(days=6)
    following = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def period_label(start: date, group: Group) -> str:
    """`2026-12-03`, `2026-W49` (ISO week: its year may differ from the Monday's) or `2026-12`."""
    if group == "day":
        return start.isoformat()
    if group == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{start.year:04d}-{start.month:02d}"


class PeriodTotals(_Counters):
    """A period's sums over the stored days of the range that fall in it."""

    period: str
    start: date
    end: date
    first_day: date
    last_day: date
    days: NonNegativeInt
    peak_chat_active_users: NonNegativeInt
    peak_chat_active_rooms: NonNegativeInt
    delivery_ratio: float | None
    failure_ratio: float | None


def period_totals(group: Group, start: date, sums: dict[str, Any]) -> PeriodTotals:
    """A period from the storage's aggregate row: counters summed, peaks, ratios from the sums."""
    counters = {name: int(sums[name]) for name in COUNTERS}
    return PeriodTotals(
        period=period_label(start, group),
        start=start,
        end=period_end(start, group),
        first_day=sums["first_day"],
        last_day=sums["last_day"],
        days=int(sums["days"]),
        **counters,
        peak_chat_active_users=int(sums["chat_active_users"]),
        peak_chat_active_rooms=int(sums["chat_active_rooms"]),
        delivery_ratio=_ratio(counters["sms_delivered"], counters["sms_jobs"]),
        failure_ratio=_ratio(counters["sms_failed"], counters["sms_jobs"]),
    )


def check_range(first: date, last: date, group: str = "day") -> Group:
    """The grouping, once the range is valid; InvalidRange with a clear message otherwise."""
    if group not in GROUPS:
        raise InvalidRange(f"group must be one of {', '.join(GROUPS)}")
    if last < first:
        raise InvalidRange("the range ends before it starts")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidRange(f"a range covers at most {MAX_RANGE_DAYS} days")
    return group  # narrowed to Group by the membership test


class StatsHistory(Protocol):
    """Where the history lives (Aurora MySQL): each method says whether it uses the writer."""

    def upsert_day(self, day: HistoryDay) -> None: ...

    def days(self, first: date, last: date) -> list[HistoryDay]: ...

    def range_summary(self, first: date, last: date, group: Group) -> list[PeriodTotals]: ...
