"""The stats plan step: which day a run covers, its shard list, and the inputs it refuses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

import plan
from courier.stats import wiring
from courier.stats.contract import AggregateRequest, PartialRef, PlanRequest, PublishRequest
from courier.stats.errors import InvalidStatsInput
from courier.stats.planning import StatsPlanner, resolve_day, shard_tasks
from tests.harness import FakeLambdaContext, load_event

SEOUL = "Asia/Seoul"
# 23:30 UTC on the 24th is 08:30 on the 25th in Seoul: "yesterday" there is the 24th, not the 23rd.
LATE_UTC = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)


def test_no_date_means_yesterday_in_seoul_across_the_utc_date_boundary() -> None:
    assert resolve_day(None, now=LATE_UTC, timezone=SEOUL) == date(2026, 11, 24)
    # In UTC the same instant's "yesterday" is a day earlier.
    assert resolve_day(None, now=LATE_UTC, timezone="UTC") == date(2026, 11, 23)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 11, 24, 14, 59, 59, tzinfo=UTC), date(2026, 11, 23)),  # 23:59:59 KST
        (datetime(2026, 11, 24, 15, 0, 0, tzinfo=UTC), date(2026, 11, 24)),  # 00:00 KST
        (datetime(2026, 1, 1, 0, 10, tzinfo=UTC), date(2025, 12, 31)),  # across a year
        (datetime(2028, 3, 1, 1, 0, tzinfo=UTC), date(2028, 2, 29)),  # leap day
    ],
)
def test_yesterday_follows_the_seoul_calendar(now: datetime, expected: date) -> None:
    assert resolve_day(None, now=now, timezone=SEOUL) == expected


def test_a_past_date_is_backfilled() -> None:
    assert resolve_day("2026-11-24", now=LATE_UTC, timezone=SEOUL) == date(2026, 11, 24)
    assert resolve_day("2020-02-29", now=LATE_UTC, timezone=SEOUL) == date(2020, 2, 29)


@pytest.mark.parametrize(
    ("requested", "message"),
    [
        ("2026-11-25", "not over yet"),  # today in Seoul (still the 24th in UTC)
        ("2026-11-26", "not over yet"),
        ("2099-01-01", "not over yet"),
        ("2026-02-30", "not a calendar day"),
        ("2026-13-01", "not a calendar day"),
        ("2026-11-4", "YYYY-MM-DD"),
        ("20261124", "YYYY-MM-DD"),
        ("2026-11-24T00:00", "YYYY-MM-DD"),
        ("yesterday", "YYYY-MM-DD"),
        ("", "YYYY-MM-DD"),
        ("\uff12\uff10\uff12\uff16-11-24", "YYYY-MM-DD"),  # full-width digits
        ("\u0662\u0660\u0662\u0666-11-24", "YYYY-MM-DD"),  # Arabic-Indic digits
    ],
)
def test_invalid_today_and_future_dates_are_refused(requested: str, message: str) -> None:
    with pytest.raises(InvalidStatsInput, match=message):
        resolve_day(requested, now=LATE_UTC, timezone=SEOUL)


def test_an_open_day_is_allowed_only_when_configured_and_never_a_future_one() -> None:
    # Given a stack configured to report on the day still open (local and demo stacks)
    # When today and tomorrow (in Seoul) are requested
    # Then today resolves and tomorrow is still refused
    assert resolve_day("2026-11-25", now=LATE_UTC, timezone=SEOUL, allow_open_day=True) == date(
        2026, 11, 25
    )
    with pytest.raises(InvalidStatsInput, match="not over yet"):
        resolve_day("2026-11-26", now=LATE_UTC, timezone=SEOUL, allow_open_day=True)


def test_the_planner_takes_the_open_day_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given STATS_ALLOW_OPEN_DAY=true in the function's environment
    monkeypatch.setenv("STATS_ALLOW_OPEN_DAY", "true")
    from courier.settings import Settings

    planner = wiring.build_planner(Settings.from_env(), clock=lambda: LATE_UTC)
    # When today is planned
    result = planner.plan(PlanRequest(date="2026-11-25"))
    # Then the plan covers today
    assert result.date == "2026-11-25"


def test_the_clock_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        resolve_day(None, now=datetime(2026, 11, 24, 23, 30), timezone=SEOUL)


def test_the_error_type_is_the_state_machines_contract() -> None:
    assert InvalidStatsInput.__name__ == "InvalidStatsInput"
    assert issubclass(InvalidStatsInput, ValueError)


@pytest.mark.parametrize("chat", [1, 7, 16, 256])
def test_task_list_has_the_sms_day_then_every_chat_shard(chat: int) -> None:
    # Given a day and the chat shards (SMS days are counted from the stream: not sharded)
    # When its tasks are listed
    tasks = shard_tasks(date(2026, 11, 24), chat_shards=chat)

    # Then one SMS task comes first, then each chat shard
    assert len(tasks) == 1 + chat
    assert [(t.source, t.shard) for t in tasks] == [("sms", 0)] + [("chat", n) for n in range(chat)]
    assert {t.date for t in tasks} == {"2026-11-24"}
    assert tasks[-1].day_shard == f"2026-11-24#{chat - 1:02d}"


def test_planner_output_is_the_documented_shape() -> None:
    planner = StatsPlanner(chat_shards=1, timezone=SEOUL, clock=lambda: LATE_UTC)
    assert planner.plan(PlanRequest(date="2026-11-24")).model_dump(mode="json") == {
        "date": "2026-11-24",
        "days": [
            {
                "date": "2026-11-24",
                "shards": [
                    {"date": "2026-11-24", "source": "sms", "shard": 0},
                    {"date": "2026-11-24", "source": "chat", "shard": 0},
                ],
            }
        ],
    }


def test_the_scheduled_run_replans_the_days_late_receipts_may_still_change() -> None:
    # Given receipts arrive up to three days after a day's first run
    planner = StatsPlanner(
        chat_shards=1, timezone=SEOUL, clock=lambda: LATE_UTC, late_receipt_days=3
    )
    # When the schedule starts a run ({}) on the 25th in Seoul
    result = planner.plan(PlanRequest())
    # Then it covers yesterday and the three days before, newest first, each with its shards
    assert result.date == "2026-11-24"
    assert [day.date for day in result.days] == [
        "2026-11-24",
        "2026-11-23",
        "2026-11-22",
        "2026-11-21",
    ]
    assert all({task.date for task in day.shards} == {day.date} for day in result.days)
    # And a backfill still covers its one day
    assert [day.date for day in planner.plan(PlanRequest(date="2026-11-02")).days] == ["2026-11-02"]


def test_the_late_receipt_window_is_three_days_unless_configured() -> None:
    from courier.settings import Settings

    assert Settings.from_env({}).stats_late_receipt_days == 3
    assert Settings.from_env({"STATS_LATE_RECEIPT_DAYS": "0"}).stats_late_receipt_days == 0


CONTEXT: Any = FakeLambdaContext()


@pytest.fixture
def late_clock(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The plan handler as deployed, with 2 chat shards, at LATE_UTC."""
    monkeypatch.setenv("CHAT_DAY_SHARDS", "2")
    monkeypatch.setattr(wiring, "system_clock", lambda: LATE_UTC)
    wiring.stats_planner.cache_clear()
    yield
    wiring.stats_planner.cache_clear()


@pytest.mark.usefixtures("late_clock")
def test_handler_plans_yesterday_and_ignores_unknown_keys() -> None:
    for event in (
        load_event("stats/plan-yesterday.json"),
        load_event("stats/scheduled-start.json"),
        {"scheduled_time": "2026-11-25T00:10:00+09:00", "date": None},
    ):
        result = plan.handler(event, CONTEXT)
        assert result["date"] == "2026-11-24"
        assert [day["date"] for day in result["days"]] == [
            "2026-11-24",
            "2026-11-23",
            "2026-11-22",
            "2026-11-21",
        ]
        assert all(len(day["shards"]) == 1 + 2 for day in result["days"])


@pytest.mark.usefixtures("late_clock")
def test_handler_backfills_the_event_files_day() -> None:
    result = plan.handler(load_event("stats/plan-backfill.json"), CONTEXT)
    assert result["date"] == "2026-11-24"
    (day,) = result["days"]
    assert day["shards"][0] == {"date": "2026-11-24", "source": "sms", "shard": 0}


@pytest.mark.usefixtures("late_clock")
@pytest.mark.parametrize(
    "event",
    [{"date": "2026-11-25"}, {"date": "2026-02-30"}, {"date": 20261124}, {"date": ["x"]}],
)
def test_handler_raises_invalid_stats_input(event: dict[str, object]) -> None:
    with pytest.raises(InvalidStatsInput):
        plan.handler(event, CONTEXT)


@pytest.mark.parametrize("run", ["", "a/b", "two words", "x" * 81])
def test_a_run_name_must_be_one_segment_of_a_key(run: str) -> None:
    with pytest.raises(ValidationError):
        AggregateRequest(date="2026-11-24", source="sms", shard=0, run=run)
    with pytest.raises(ValidationError):
        PublishRequest(date="2026-11-24", run=run, partials=[])


def test_step_event_files_match_the_contract() -> None:
    task = AggregateRequest.model_validate(load_event("stats/aggregate.json"))
    assert (task.source, task.shard) == ("sms", 0)
    publish = PublishRequest.model_validate(load_event("stats/publish.json"))
    assert len(publish.partials) == 1 + 16
    assert all(f"/{publish.run}/" in ref.partial_key for ref in publish.partials)
    assert all(isinstance(ref, PartialRef) for ref in publish.partials)
    assert load_event("stats/scheduled-start.json") == {}
    assert load_event("stats/plan-yesterday.json") == {}
