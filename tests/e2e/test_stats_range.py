"""Stats over a range end to end: three days' batches -> MySQL history -> range API -> the page.

The three days are in the past (a Monday to Wednesday two weeks back, inside the page's default
range of the last 30 days), so nothing else the suite does falls on them: their SMS and chat
records are written here with the app's own stores, stamped on those days, as the sender and the
chat channel would have written them then.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from courier.chat.message_store import MessageStore, StoredMessage
from courier.sms.status import SmsStatus, StatusChange
from courier.sms.status_store import SmsStatusStore
from local.deploy import local_parameter_overrides
from local.system import SERVICE_TIMEZONE, LocalSystem

SEOUL = ZoneInfo("Asia/Seoul")
ROOM = "range-room"


@dataclass(frozen=True)
class SeededDay:
    """What was written for one day: the counts its history row must hold."""

    day: date
    sent: int
    delivered: int
    failed: int
    chat_messages: int
    chat_users: int

    @property
    def jobs(self) -> int:
        return self.sent + self.delivered + self.failed


def _three_days() -> list[date]:
    today = datetime.now(SERVICE_TIMEZONE).date()
    monday = today - timedelta(days=today.weekday() + 14)
    return [monday + timedelta(days=n) for n in range(3)]


def _seed_day(system: LocalSystem, day: date, n: int) -> SeededDay:
    """n + 1 SENT transactional, n DELIVERED bulk, 1 FAILED; n + 2 chat messages, n + 1 users."""
    shards = int(local_parameter_overrides()["DayShards"])  # the stack's chat shards
    dynamodb = system.client_resource("dynamodb")
    outputs = system.outputs
    sms = SmsStatusStore(
        dynamodb.Table(outputs["SmsMessagesTableName"]),
        timezone="Asia/Seoul",
        ttl_days=90,
    )
    chat = MessageStore(
        dynamodb.Table(outputs["ChatMessagesTableName"]),
        day_shards=shards,
        timezone="Asia/Seoul",
        retention_days=365,
    )
    run = uuid.uuid4().hex[:6]
    jobs = (
        [(SmsStatus.SENT, "transactional", None)] * (n + 1)
        + [(SmsStatus.DELIVERED, "bulk", None)] * n
        + [(SmsStatus.FAILED, "transactional", "OPTED_OUT")]
    )
    for index, (status, priority, reason) in enumerate(jobs):
        job_id = f"range-{day}-{run}-{index}"
        at = datetime(day.year, day.month, day.day, 9 + index, 30, tzinfo=SEOUL)
        sms.record(
            StatusChange(job_id=job_id, status=status, at=at, reason=reason, provider="sandbox"),
            describe={
                "parts": 1,
                "priority": priority,
                "created_at": at.isoformat(timespec="milliseconds"),
                **sms.day_keys(job_id, at),
            },
        )
    users = n + 1
    for index in range(n + 2):
        sender = f"range-user-{index % users}"
        chat.append(
            StoredMessage(
                room=ROOM,
                message_id=f"{day}-{run}-{index}",
                sender_sub=sender,
                sender_name=sender,
                text="a message for the range test",
                sent_at=datetime(day.year, day.month, day.day, 12, index, tzinfo=SEOUL),
                client_msg_id=None,
            )
        )
    return SeededDay(day, n + 1, n, 1, n + 2, users)


@pytest.fixture(scope="module")
def seeded_days(local_system: LocalSystem) -> list[SeededDay]:
    """Three consecutive days with records, each aggregated by the stats batch."""
    seeded = [_seed_day(local_system, day, n) for n, day in enumerate(_three_days())]
    for item in seeded:
        result = local_system.run_stats(item.day.isoformat())
        assert result["status"] == "SUCCEEDED", result
        assert result["report"]["sms"]["jobs"] == item.jobs, result["report"]
    return seeded


def _get_stats(system: LocalSystem, **query: str) -> tuple[int, dict[str, Any]]:
    url = f"{system.api_base}/stats?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_the_range_api_returns_each_day_and_sums_them_by_week(
    local_system: LocalSystem, seeded_days: list[SeededDay]
) -> None:
    first, last = seeded_days[0].day.isoformat(), seeded_days[-1].day.isoformat()
    # When the range is asked for by day
    status, body = _get_stats(local_system, **{"from": first, "to": last, "group": "day"})
    # Then each day comes back with its own counts
    assert status == 200, body
    assert (body["from"], body["to"], body["group"]) == (first, last, "day")
    assert body["timezone"] == "Asia/Seoul"
    by_day = {period["period"]: period for period in body["periods"]}
    assert list(by_day) == [item.day.isoformat() for item in seeded_days]
    for item in seeded_days:
        period = by_day[item.day.isoformat()]
        assert period["days"] == 1
        assert period["sms_jobs"] == item.jobs
        assert period["sms_sent"] == item.sent
        assert period["sms_delivered"] == item.delivered
        assert period["sms_failed"] == item.failed
        assert period["chat_messages"] == item.chat_messages
        assert period["peak_chat_active_users"] == item.chat_users

    # When the same range is asked for by week (the three days are one ISO week's Monday on)
    status, body = _get_stats(local_system, **{"from": first, "to": last, "group": "week"})
    # Then one period sums them, its ratios recomputed from the sums
    assert status == 200, body
    (week,) = body["periods"]
    jobs = sum(item.jobs for item in seeded_days)
    delivered = sum(item.delivered for item in seeded_days)
    assert (week["start"], week["first_day"], week["last_day"]) == (first, first, last)
    assert week["days"] == 3
    assert week["sms_jobs"] == jobs
    assert week["sms_delivered"] == delivered
    assert week["sms_failed"] == sum(item.failed for item in seeded_days)
    assert week["chat_messages"] == sum(item.chat_messages for item in seeded_days)
    assert week["peak_chat_active_users"] == max(item.chat_users for item in seeded_days)
    assert week["delivery_ratio"] == pytest.approx(delivered / jobs, abs=1e-6)


def test_a_reversed_range_is_a_400_with_a_message(
    local_system: LocalSystem, seeded_days: list[SeededDay]
) -> None:
    first, last = seeded_days[0].day.isoformat(), seeded_days[-1].day.isoformat()
    status, body = _get_stats(local_system, **{"from": last, "to": first})
    assert status == 400, body
    assert body["code"]
    assert "ends before it starts" in body["message"], body  # courier.stats.history's words


def _stats_page(system: LocalSystem, query: str = "") -> str:
    return system.web_url.replace("chat.html", f"stats.html{query}")


def test_the_stats_page_shows_the_range_as_bars_and_rows_and_a_reversed_range_inline(
    local_system: LocalSystem, browser: Browser, seeded_days: list[SeededDay]
) -> None:
    first, last = seeded_days[0].day.isoformat(), seeded_days[-1].day.isoformat()
    page = browser.new_page()
    # Given the stats page opened with its default range (the last 30 days up to yesterday)
    page.goto(_stats_page(local_system))
    table = page.get_by_test_id("range-table")
    # Then the three days are rows of the range table, with their SMS job counts
    for item in seeded_days:
        row = table.locator("tbody tr", has=page.locator(f'th:text-is("{item.day}")'))
        expect(row).to_have_count(1, timeout=60_000)
        expect(row.locator("td").nth(1)).to_have_text(f"{item.jobs:,}")
    # And the chart draws a bar of each series for each of them, as tall as its number
    chart = page.get_by_test_id("range-svg")
    expect(chart).to_have_attribute("role", "img")
    for item in seeded_days:
        for series, value in (
            ("sms_jobs", item.jobs),
            ("sms_delivered", item.delivered),
            ("sms_failed", item.failed),
            ("chat_messages", item.chat_messages),
        ):
            bar = chart.locator(f'rect[data-period="{item.day}"][data-series="{series}"]')
            expect(bar).to_have_attribute("data-value", str(value))
    # And the single-day view still answers beside it
    expect(page.get_by_test_id("status-line")).not_to_be_empty()

    # When the range is grouped by week
    page.get_by_test_id("range-from").fill(first)
    page.get_by_test_id("range-to").fill(last)
    page.get_by_test_id("range-group").select_option("week")
    page.get_by_test_id("range-show").click()
    # Then one row holds the three days' sum
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(1, timeout=30_000)
    expect(rows.first.locator("td").nth(1)).to_have_text(
        f"{sum(item.jobs for item in seeded_days):,}"
    )

    # When the days are swapped
    _, error = _get_stats(local_system, **{"from": last, "to": first})
    page.get_by_test_id("range-from").fill(last)
    page.get_by_test_id("range-to").fill(first)
    page.get_by_test_id("range-show").click()
    # Then the API's message is shown inline, and the inputs are marked invalid
    message = page.get_by_test_id("range-error")
    expect(message).to_be_visible(timeout=30_000)
    expect(message).to_contain_text(error["message"])
    expect(page.get_by_test_id("range-from")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("range-report")).to_be_hidden()
    page.close()
