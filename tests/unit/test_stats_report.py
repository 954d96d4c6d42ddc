"""The day's numbers and their renderings: deterministic bytes, the CSV layout, the item."""

from __future__ import annotations

import csv
import io
import json

from courier.stats.report import (
    ITEM_BUDGET_BYTES,
    daily_stats,
    render_csv,
    render_json,
    stats_item,
    summary_line,
    top_rooms,
)
from courier.stats.tallies import ChatTally, SmsTally

HOURS = [0] * 24
HOURS[0], HOURS[9], HOURS[23] = 1, 2, 1

SMS = SmsTally(
    jobs=4,
    by_status={"SENT": 1, "DELIVERED": 2, "FAILED": 1},
    failed_by_reason={"INVALID_NUMBER": 1},
    parts_by_status={"SENT": 1, "DELIVERED": 3, "FAILED": 2},
    by_priority={"transactional": 3, "bulk": 1},
    by_hour=HOURS,
)
CHAT = ChatTally(
    messages=6,
    by_room={"team-b": 2, "lobby": 3, "team-a": 1},
    users=["u3", "u1", "u2"],
)


def test_numbers_are_derived_from_the_merged_tallies() -> None:
    numbers = daily_stats("2026-11-24", sms=SMS, chat=CHAT, timezone="Asia/Seoul", top_room_count=2)
    assert numbers.sms.parts == 6
    assert numbers.sms.parts_sent_or_delivered == 4
    assert numbers.chat.active_users == 3
    assert numbers.chat.active_rooms == 3
    assert [(t.room, t.messages) for t in numbers.chat.top_rooms] == [("lobby", 3), ("team-b", 2)]
    assert list(numbers.sms.by_hour) == [f"{h:02d}" for h in range(24)]


def test_known_statuses_and_priorities_are_listed_even_at_zero() -> None:
    numbers = daily_stats(
        "2026-11-24", sms=SmsTally(), chat=ChatTally(), timezone="Asia/Seoul", top_room_count=10
    )
    assert numbers.sms.by_status == {"DELIVERED": 0, "FAILED": 0, "SENT": 0}
    assert numbers.sms.parts_by_status == {"DELIVERED": 0, "FAILED": 0, "SENT": 0}
    assert numbers.sms.by_priority == {"bulk": 0, "transactional": 0}
    assert numbers.chat.top_rooms == []
    assert summary_line(numbers) == (
        "Daily stats 2026-11-24 (Asia/Seoul): SMS 0 jobs (DELIVERED 0, FAILED 0, SENT 0), "
        "0 parts; chat 0 messages, 0 users, 0 rooms."
    )


def test_top_rooms_rank_by_count_then_name() -> None:
    ranked = top_rooms({"b": 5, "a": 5, "c": 9, "d": 1}, 3)
    assert [(t.room, t.messages) for t in ranked] == [("c", 9), ("a", 5), ("b", 5)]
    assert top_rooms({"a": 1}, 10)[0].room == "a"


def test_reports_are_byte_identical_for_the_same_numbers() -> None:
    first = daily_stats("2026-11-24", sms=SMS, chat=CHAT, timezone="Asia/Seoul", top_room_count=2)
    # The same numbers built from tallies with another insertion order.
    second = daily_stats(
        "2026-11-24",
        sms=SmsTally.model_validate_json(SMS.model_dump_json()),
        chat=ChatTally(
            messages=6, by_room={"lobby": 3, "team-a": 1, "team-b": 2}, users=["u2", "u3", "u1"]
        ),
        timezone="Asia/Seoul",
        top_room_count=2,
    )
    assert render_json(first) == render_json(second)
    assert render_csv(first) == render_csv(second)
    assert render_json(first) == render_json(first)


def test_json_report_is_pretty_sorted_and_complete() -> None:
    numbers = daily_stats("2026-11-24", sms=SMS, chat=CHAT, timezone="Asia/Seoul", top_room_count=2)
    text = render_json(numbers).decode()
    assert text.endswith("}\n")
    assert text.startswith('{\n  "chat": {\n')
    data = json.loads(text)
    assert data == numbers.model_dump(mode="json")
    assert list(data) == sorted(data)
    assert list(data["sms"]) == sorted(data["sms"])
    assert "users" not in data["chat"]


def test_csv_report_layout() -> None:
    numbers = daily_stats("2026-11-24", sms=SMS, chat=CHAT, timezone="Asia/Seoul", top_room_count=2)
    text = render_csv(numbers).decode()
    lines = text.splitlines()
    assert lines[0] == "metric,key,value"
    assert "\r" not in text
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert rows == sorted(rows, key=lambda row: (row[0], row[1]))
    assert len(rows) == len({(metric, key) for metric, key, _ in rows})
    assert lines[1:9] == [
        "chat.active_rooms,total,3",
        "chat.active_users,total,3",
        "chat.by_room,lobby,3",
        "chat.by_room,team-a,1",
        "chat.by_room,team-b,2",
        "chat.messages,total,6",
        "chat.top_rooms,001:lobby,3",
        "chat.top_rooms,002:team-b,2",
    ]
    by_metric: dict[str, dict[str, int]] = {}
    for metric, key, value in rows:
        by_metric.setdefault(metric, {})[key] = int(value)
    assert by_metric["sms.jobs"] == {"total": 4}
    assert by_metric["sms.by_status"] == {"DELIVERED": 2, "FAILED": 1, "SENT": 1}
    assert by_metric["sms.failed_by_reason"] == {"INVALID_NUMBER": 1}
    assert by_metric["sms.parts"] == {"sent_or_delivered": 4, "total": 6}
    assert by_metric["sms.parts_by_status"] == {"DELIVERED": 3, "FAILED": 2, "SENT": 1}
    assert by_metric["sms.by_priority"] == {"bulk": 1, "transactional": 3}
    assert len(by_metric["sms.by_hour"]) == 24
    assert by_metric["sms.by_hour"]["09"] == 2
    assert len(rows) == 8 + 1 + 3 + 1 + 2 + 3 + 2 + 24


def test_csv_quotes_awkward_keys() -> None:
    sms = SmsTally(jobs=1, by_status={"FAILED": 1}, failed_by_reason={'TEXT_BLOCKED: "x", y': 1})
    numbers = daily_stats(
        "2026-11-24", sms=sms, chat=ChatTally(), timezone="Asia/Seoul", top_room_count=1
    )
    text = render_csv(numbers).decode()
    assert 'sms.failed_by_reason,"TEXT_BLOCKED: ""x"", y",1\n' in text


def test_summary_is_one_short_line() -> None:
    numbers = daily_stats("2026-11-24", sms=SMS, chat=CHAT, timezone="Asia/Seoul", top_room_count=2)
    line = summary_line(numbers)
    assert line == (
        "Daily stats 2026-11-24 (Asia/Seoul): SMS 4 jobs (DELIVERED 2, FAILED 1, SENT 1), "
        "6 parts; chat 6 messages, 3 users, 3 rooms, top lobby (3)."
    )
    assert "\n" not in line


def test_item_holds_the_numbers_without_user_ids() -> None:
    numbers = daily_stats("2026-11-24", sms=SMS, chat=CHAT, timezone="Asia/Seoul", top_room_count=2)
    item = stats_item(numbers, summary="s", report_json="s3://b/j", report_csv="s3://b/c")
    assert item["date"] == "2026-11-24"
    assert item["chat"]["active_users"] == 3
    assert "users" not in item["chat"]
    assert item["chat"]["by_room"] == {"lobby": 3, "team-a": 1, "team-b": 2}
    assert item["report_json"] == "s3://b/j"
    assert stats_item(numbers, summary="s", report_json="s3://b/j", report_csv="s3://b/c") == item


def test_item_keeps_per_room_counts_in_the_reports_only_when_too_large() -> None:
    rooms = {f"room-{n:05d}-{'x' * 40}": n + 1 for n in range(8000)}
    chat = ChatTally(messages=sum(rooms.values()), by_room=rooms, users=["u"])
    numbers = daily_stats(
        "2026-11-24", sms=SMS, chat=chat, timezone="Asia/Seoul", top_room_count=10
    )
    item = stats_item(numbers, summary="s", report_json="j", report_csv="c")
    assert "by_room" not in item["chat"]
    assert item["chat"]["by_room_in_reports_only"] is True
    assert len(item["chat"]["top_rooms"]) == 10
    assert len(json.dumps(item)) < ITEM_BUDGET_BYTES
    assert len(json.loads(render_json(numbers))["chat"]["by_room"]) == 8000
