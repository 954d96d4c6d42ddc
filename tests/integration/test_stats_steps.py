"""The stats steps in-process against moto: plan → aggregate every shard → publish, then again.

Records are written by the real adapters (`SmsStatusStore.record`, `MessageStore.append`) for
2026-11-24 in Seoul, with noise on the 23rd and the 25th just across the day's edges.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from typing import Any

import pytest

import aggregate
import plan
import publish
from courier.settings import get_settings
from courier.sms.status_store import SmsStatusStore
from courier.stats import wiring
from courier.stats.contract import AggregateRequest
from courier.stats.errors import InvalidStatsInput, MissingObject
from tests.harness import (
    load_event,
)
from tests.integration.stats_day import (
    BUCKET,
    CHAT_SHARDS,
    CONTEXT,
    DAY,
    SMS_SHARDS,
    Stack,
    count_stream,
    seed_chat,
    seed_sms,
    sent,
    utc,
)

# ---- the run ----------------------------------------------------------------------------------


RUN = "run-1"


def aggregate_day(day: dict[str, Any], run: str) -> list[dict[str, Any]]:
    """The shard Map of one planned day, as the state machine's ItemSelector feeds it."""
    return [aggregate.handler({**task, "run": run}, CONTEXT) for task in day["shards"]]


def run_day(
    event: dict[str, Any], run: str = RUN
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    """What the state machine does for the newest planned day: plan, its shard Map, publish."""
    planned = plan.handler(event, CONTEXT)
    day = planned["days"][0]
    partials = aggregate_day(day, run)
    published = publish.handler({"date": day["date"], "run": run, "partials": partials}, CONTEXT)
    return day, partials, published


def report_objects(stack: Stack, run: str = RUN) -> dict[str, bytes]:
    keys = [f"reports/{DAY}/daily-stats.json", f"reports/{DAY}/daily-stats.csv"]
    keys += [f"partials/{DAY}/{run}/sms-{n:02d}.json" for n in range(SMS_SHARDS)]
    keys += [f"partials/{DAY}/{run}/chat-{n:02d}.json" for n in range(CHAT_SHARDS)]
    return {key: stack.object(key) for key in keys}


EXPECTED_SMS = {
    "jobs": 27,
    "by_status": {"DELIVERED": 22, "FAILED": 3, "SENT": 2},
    "failed_by_reason": {"CARRIER_UNREACHABLE": 1, "INVALID_NUMBER": 1, "OPTED_OUT": 1},
    "parts": 33,
    "parts_sent_or_delivered": 30,
    "parts_by_status": {"DELIVERED": 23, "FAILED": 3, "SENT": 7},
    "by_priority": {"bulk": 22, "transactional": 5},
    "by_hour": {f"{h:02d}": 0 for h in range(24)}
    | {"00": 1, "09": 4, "10": 2, "11": 2, "12": 4, "13": 2, "14": 3}
    | {"15": 2, "16": 2, "17": 2, "18": 2, "23": 1},
}
EXPECTED_CHAT = {
    "messages": 12,
    "active_users": 6,
    "active_rooms": 4,
    "by_room": {"lobby": 5, "random": 1, "team-a": 3, "team-b": 3},
    "top_rooms": [{"room": "lobby", "messages": 5}, {"room": "team-a", "messages": 3}],
}


def test_a_day_is_planned_aggregated_and_published_with_exact_numbers(stack: Stack) -> None:
    seed_sms()
    seed_chat()

    # The noise is there, with its own day keys (and one record without any).
    sms_items = stack.dynamodb.Table("SmsMessages").scan()["Items"]
    assert len(sms_items) == 27 + 3
    assert {i.get("day") for i in sms_items} == {"2026-11-23", DAY, "2026-11-25", None}
    assert stack.dynamodb.Table("ChatMessages").scan()["Count"] == 12 + 3

    planned, partials, published = run_day(load_event("stats/plan-backfill.json"))

    assert planned["date"] == DAY
    assert [(s["source"], s["shard"]) for s in planned["shards"]] == [
        ("sms", n) for n in range(SMS_SHARDS)
    ] + [("chat", n) for n in range(CHAT_SHARDS)]
    assert sum(p["records"] for p in partials if p["source"] == "sms") == 27
    assert sum(p["records"] for p in partials if p["source"] == "chat") == 12
    assert all(set(p) == {"source", "shard", "records", "partial_key"} for p in partials)
    assert max(len(json.dumps(p)) for p in partials) < 200  # the Map output stays tiny
    assert published == {
        "date": DAY,
        "summary": (
            "Daily stats 2026-11-24 (Asia/Seoul): SMS 27 jobs (DELIVERED 22, FAILED 3, SENT 2), "
            "33 parts; chat 12 messages, 6 users, 4 rooms, top lobby (5)."
        ),
        "report_json": f"s3://{BUCKET}/reports/{DAY}/daily-stats.json",
        "report_csv": f"s3://{BUCKET}/reports/{DAY}/daily-stats.csv",
    }

    report = json.loads(stack.object(f"reports/{DAY}/daily-stats.json"))
    assert report == {
        "schema_version": 1,
        "date": DAY,
        "timezone": "Asia/Seoul",
        "sms": EXPECTED_SMS,
        "chat": EXPECTED_CHAT,
    }

    rows = list(csv.reader(io.StringIO(stack.object(f"reports/{DAY}/daily-stats.csv").decode())))
    assert rows[0] == ["metric", "key", "value"]
    assert ["sms.jobs", "total", "27"] in rows
    assert ["sms.failed_by_reason", "CARRIER_UNREACHABLE", "1"] in rows
    assert ["sms.by_hour", "09", "4"] in rows
    assert ["chat.top_rooms", "002:team-a", "3"] in rows
    assert ["chat.active_users", "total", "6"] in rows
    assert rows[1:] == sorted(rows[1:])

    item = stack.item()
    assert item["sms"]["by_status"] == {
        "DELIVERED": Decimal(22),
        "FAILED": Decimal(3),
        "SENT": Decimal(2),
    }
    assert item["chat"]["active_users"] == 6
    assert "users" not in item["chat"]
    assert item["summary"] == published["summary"]
    assert item["report_csv"] == published["report_csv"]


def test_rerunning_a_day_gives_byte_identical_reports(stack: Stack) -> None:
    seed_sms()
    seed_chat()
    _, partials, _ = run_day({"date": DAY})
    first_objects, first_item = report_objects(stack), stack.item()

    # Again, from `{}` (yesterday in Seoul at NOW), with fresh execution environments.
    for cached in (wiring.stats_planner, wiring.stats_aggregator, wiring.stats_publisher):
        cached.cache_clear()
    planned, again, _ = run_day(load_event("stats/scheduled-start.json"))
    assert planned["date"] == DAY
    assert again == partials
    assert report_objects(stack) == first_objects
    assert stack.item() == first_item

    # Publishing the Map's outputs in another order changes nothing either.
    publish.handler({"date": DAY, "run": RUN, "partials": list(reversed(partials))}, CONTEXT)
    assert report_objects(stack) == first_objects


def test_overlapping_runs_of_a_day_never_read_each_others_partials(stack: Stack) -> None:
    # Given run A has aggregated the day
    seed_sms()
    seed_chat()
    day = plan.handler({"date": DAY}, CONTEXT)["days"][0]
    partials_a = aggregate_day(day, "run-a")
    # And a job of the day is recorded, then run B aggregates and publishes the same day
    sent(SmsStatusStore.from_settings(get_settings()), "between-runs", utc("2026-11-24T06:00:00"))
    count_stream()
    partials_b = aggregate_day(day, "run-b")
    published_b = publish.handler({"date": DAY, "run": "run-b", "partials": partials_b}, CONTEXT)

    # When run A publishes after B
    published_a = publish.handler({"date": DAY, "run": "run-a", "partials": partials_a}, CONTEXT)

    # Then each run published its own snapshot: A read its partials, not B's
    assert "SMS 27 jobs" in published_a["summary"]
    assert "SMS 28 jobs" in published_b["summary"]
    assert all("/run-a/" in ref["partial_key"] for ref in partials_a)


def test_small_query_pages_give_the_same_partials(stack: Stack) -> None:
    seed_sms()
    seed_chat()
    run_day({"date": DAY})
    whole = report_objects(stack)

    paged = wiring.build_aggregator(get_settings(), page_size=2)
    for task in plan.handler({"date": DAY}, CONTEXT)["days"][0]["shards"]:
        paged.aggregate(AggregateRequest.model_validate({**task, "run": RUN}))
    assert report_objects(stack) == whole


def test_the_aggregate_event_file_runs(stack: Stack) -> None:
    seed_sms()
    result = aggregate.handler(load_event("stats/aggregate.json"), CONTEXT)
    assert result["partial_key"] == f"partials/{DAY}/backfill-2026-11-24/sms-00.json"
    stored = json.loads(stack.object(result["partial_key"]))
    assert stored["records"] == result["records"]


def test_today_is_refused_before_anything_is_read(stack: Stack) -> None:
    with pytest.raises(InvalidStatsInput, match="not over yet"):
        plan.handler({"date": "2026-11-25"}, CONTEXT)


@pytest.mark.filterwarnings("ignore:No application metrics to publish")
def test_publish_without_the_partials_fails(stack: Stack) -> None:
    planned = plan.handler({}, CONTEXT)
    refs = [
        {
            "source": task["source"],
            "shard": task["shard"],
            "records": 0,
            "partial_key": f"partials/{DAY}/{RUN}/{task['source']}-{task['shard']:02d}.json",
        }
        for task in planned["days"][0]["shards"]
    ]
    with pytest.raises(MissingObject):
        publish.handler({"date": DAY, "run": RUN, "partials": refs}, CONTEXT)
