"""A day's merged numbers and their three renderings: the JSON report, the CSV report, the item.

Everything is sorted and nothing depends on when the run happened, so re-running a day over the
same records gives byte-identical reports and an identical DailyStats item.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, NonNegativeInt

from courier.stats.contract import Day
from courier.stats.tallies import ChatTally, SmsTally

SCHEMA_VERSION: Literal[1] = 1
# Always listed, zero or not, so every report has the same rows for them.
STATUSES = ("DELIVERED", "FAILED", "SENT")
PRIORITIES = ("bulk", "transactional")
DELIVERED_OR_SENT = ("DELIVERED", "SENT")
HOURS = tuple(f"{hour:02d}" for hour in range(24))

# DynamoDB's item limit is 400 KB; a day with a very large number of rooms keeps `by_room` in the
# S3 reports only (deterministically: the same day always makes the same choice).
ITEM_BUDGET_BYTES = 300_000


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmsNumbers(_Frozen):
    jobs: NonNegativeInt
    by_status: dict[str, NonNegativeInt]
    failed_by_reason: dict[str, NonNegativeInt]
    parts: NonNegativeInt
    parts_sent_or_delivered: NonNegativeInt
    parts_by_status: dict[str, NonNegativeInt]
    by_priority: dict[str, NonNegativeInt]
    by_hour: dict[str, NonNegativeInt]  # "00".."23", hour of created_at in the service timezone


class TopRoom(_Frozen):
    room: str
    messages: NonNegativeInt


class ChatNumbers(_Frozen):
    messages: NonNegativeInt
    active_users: NonNegativeInt
    active_rooms: NonNegativeInt
    by_room: dict[str, NonNegativeInt]
    top_rooms: list[TopRoom]


class DailyStats(_Frozen):
    """One day's numbers: what the JSON report holds and what the DailyStats item is built from."""

    schema_version: Literal[1] = SCHEMA_VERSION
    date: Day
    timezone: str
    sms: SmsNumbers
    chat: ChatNumbers


def _with_known(counts: dict[str, int], known: tuple[str, ...]) -> dict[str, int]:
    merged = {key: 0 for key in known} | counts
    return {key: merged[key] for key in sorted(merged)}


def top_rooms(by_room: dict[str, int], limit: int) -> list[TopRoom]:
    """The busiest rooms: most messages first, ties by room name."""
    ranked = sorted(by_room.items(), key=lambda item: (-item[1], item[0]))[:limit]
    return [TopRoom(room=room, messages=count) for room, count in ranked]


def daily_stats(
    day: str, *, sms: SmsTally, chat: ChatTally, timezone: str, top_room_count: int
) -> DailyStats:
    """The day's numbers from the merged tallies of every shard."""
    return DailyStats(
        date=day,
        timezone=timezone,
        sms=SmsNumbers(
            jobs=sms.jobs,
            by_status=_with_known(sms.by_status, STATUSES),
            failed_by_reason=dict(sms.failed_by_reason),
            parts=sum(sms.parts_by_status.values()),
            parts_sent_or_delivered=sum(sms.parts_by_status.get(s, 0) for s in DELIVERED_OR_SENT),
            parts_by_status=_with_known(sms.parts_by_status, STATUSES),
            by_priority=_with_known(sms.by_priority, PRIORITIES),
            by_hour=dict(zip(HOURS, sms.by_hour, strict=True)),
        ),
        chat=ChatNumbers(
            messages=chat.messages,
            active_users=len(chat.users),
            active_rooms=len(chat.by_room),
            by_room=dict(chat.by_room),
            top_rooms=top_rooms(chat.by_room, top_room_count),
        ),
    )


def render_json(stats: DailyStats) -> bytes:
    """The JSON report: indented, keys sorted, UTF-8, one trailing newline."""
    text = json.dumps(stats.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode()


def csv_rows(stats: DailyStats) -> list[tuple[str, str, int]]:
    """`(metric, key, value)` for every number, sorted by metric then key."""
    sms, chat = stats.sms, stats.chat
    rows: list[tuple[str, str, int]] = [
        ("sms.jobs", "total", sms.jobs),
        ("sms.parts", "total", sms.parts),
        ("sms.parts", "sent_or_delivered", sms.parts_sent_or_delivered),
        ("chat.messages", "total", chat.messages),
        ("chat.active_users", "total", chat.active_users),
        ("chat.active_rooms", "total", chat.active_rooms),
    ]
    for metric, counts in (
        ("sms.by_status", sms.by_status),
        ("sms.failed_by_reason", sms.failed_by_reason),
        ("sms.parts_by_status", sms.parts_by_status),
        ("sms.by_priority", sms.by_priority),
        ("sms.by_hour", sms.by_hour),
        ("chat.by_room", chat.by_room),
    ):
        rows.extend((metric, key, value) for key, value in counts.items())
    # The rank leads the key (`001:lobby`), so sorting keeps the ranking.
    rows.extend(
        ("chat.top_rooms", f"{rank:03d}:{top.room}", top.messages)
        for rank, top in enumerate(chat.top_rooms, start=1)
    )
    return sorted(rows)


def render_csv(stats: DailyStats) -> bytes:
    """The CSV report: a `metric,key,value` header, then one sorted row per number."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("metric", "key", "value"))
    writer.writerows(csv_rows(stats))
    return buffer.getvalue().encode()


def _count(value: int) -> str:
    return f"{value:,}"


def summary_line(stats: DailyStats) -> str:
    """One short line for the notification."""
    sms, chat = stats.sms, stats.chat
    statuses = ", ".join(f"{status} {_count(sms.by_status[status])}" for status in STATUSES)
    line = (
        f"Daily stats {stats.date} ({stats.timezone}): SMS {_count(sms.jobs)} jobs ({statuses}), "
        f"{_count(sms.parts)} parts; chat {_count(chat.messages)} messages, "
        f"{_count(chat.active_users)} users, {_count(chat.active_rooms)} rooms"
    )
    if chat.top_rooms:
        top = chat.top_rooms[0]
        line += f", top {top.room} ({_count(top.messages)})"
    return line + "."


def stats_item(
    stats: DailyStats, *, summary: str, report_json: str, report_csv: str
) -> dict[str, Any]:
    """The DailyStats item (key `date`): the numbers, the summary and where the reports are.

    No user ids (only their count) and no run time: a re-run writes the same item again.
    """
    item: dict[str, Any] = {
        **stats.model_dump(mode="json"),
        "summary": summary,
        "report_json": report_json,
        "report_csv": report_csv,
    }
    if len(json.dumps(item, ensure_ascii=False).encode()) > ITEM_BUDGET_BYTES:
        item["chat"] = {k: v for k, v in item["chat"].items() if k != "by_room"}
        item["chat"]["by_room_in_reports_only"] = True
    return item
