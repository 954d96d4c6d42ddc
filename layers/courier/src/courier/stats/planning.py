"""Which days a run covers, and the tasks the Map state runs for each: one for the SMS day (its
partials, counted from the stream) and one per chat day-shard."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from courier.stats.contract import DAY_PATTERN, DayPlan, PlanRequest, PlanResult, ShardTask
from courier.stats.errors import InvalidStatsInput


def resolve_day(
    requested: str | None, *, now: datetime, timezone: str, allow_open_day: bool = False
) -> date:
    """The day to aggregate: `requested`, or yesterday in `timezone` when there is none.

    Raises InvalidStatsInput for a malformed or impossible date and for a day that is not over yet
    in `timezone` (today or later): its records are still being written. `allow_open_day` admits
    today (a partial report, for local and demo stacks); a future day is refused either way.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    today = now.astimezone(ZoneInfo(timezone)).date()
    if requested is None:
        return today - timedelta(days=1)
    if not DAY_PATTERN.fullmatch(requested):
        raise InvalidStatsInput(f"date {requested!r} is not written YYYY-MM-DD")
    try:
        day = date.fromisoformat(requested)
    except ValueError as error:
        raise InvalidStatsInput(f"date {requested!r} is not a calendar day: {error}") from None
    if day > today or (day == today and not allow_open_day):
        raise InvalidStatsInput(
            f"date {requested} is not over yet in {timezone} (today there is {today.isoformat()}); "
            "only past days can be aggregated"
        )
    return day


def days_to_run(day: date, *, requested: bool, late_receipt_days: int) -> list[date]:
    """Newest first: a requested day alone; otherwise yesterday and the `late_receipt_days` before.

    Delivery receipts keep changing a day's SMS statuses after its first run, so the scheduled
    run aggregates those days again (each re-run overwrites the day's item and reports).
    """
    if requested:
        return [day]
    return [day - timedelta(days=back) for back in range(late_receipt_days + 1)]


# SMS days are not sharded: one task reads the day's partials (courier.stats.stream_counts).
SMS_TASKS = 1


def shard_tasks(day: date, *, chat_shards: int) -> list[ShardTask]:
    """The SMS task (shard 0), then every chat shard, in order."""
    text = day.isoformat()
    return [ShardTask(date=text, source="sms", shard=n) for n in range(SMS_TASKS)] + [
        ShardTask(date=text, source="chat", shard=n) for n in range(chat_shards)
    ]


class StatsPlanner:
    """The plan step: resolve the days against the clock, list each day's tasks."""

    def __init__(
        self,
        *,
        chat_shards: int,
        timezone: str,
        clock: Callable[[], datetime],
        allow_open_day: bool = False,
        late_receipt_days: int = 0,
    ) -> None:
        self._chat_shards = chat_shards
        self._timezone = timezone
        self._clock = clock
        self._allow_open_day = allow_open_day
        self._late_receipt_days = late_receipt_days

    def plan(self, request: PlanRequest) -> PlanResult:
        day = resolve_day(
            request.date,
            now=self._clock(),
            timezone=self._timezone,
            allow_open_day=self._allow_open_day,
        )
        days = days_to_run(
            day, requested=request.date is not None, late_receipt_days=self._late_receipt_days
        )
        return PlanResult(
            date=day.isoformat(),
            days=[
                DayPlan(
                    date=each.isoformat(),
                    shards=shard_tasks(each, chat_shards=self._chat_shards),
                )
                for each in days
            ],
        )
