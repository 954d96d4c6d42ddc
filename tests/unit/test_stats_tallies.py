"""Folding pages of records into tallies, and merging tallies: exact and order-independent."""

from __future__ import annotations

import hashlib
import itertools
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from courier.stats.contract import Source
from courier.stats.tallies import (
    ChatTally,
    PartialDocument,
    SmsTally,
    fold_chat,
    fold_sms,
    hour_reader,
)

SEOUL = ZoneInfo("Asia/Seoul")


def sms_record(
    status: str = "SENT",
    *,
    created_at: str = "2026-11-23T15:30:00.000+00:00",
    parts: int | None = 1,
    priority: str | None = "transactional",
    reason: str | None = None,
) -> dict[str, Any]:
    """An item as the DynamoDB resource returns it (numbers as Decimal)."""
    record: dict[str, Any] = {
        "status": status,
        "created_at": created_at,
        "sk_time": f"{created_at}#job",
    }
    if parts is not None:
        record["parts"] = Decimal(parts)
    if priority is not None:
        record["priority"] = priority
    if reason is not None:
        record["reason"] = reason
    return record


def random_sms(rng: random.Random, count: int) -> list[dict[str, Any]]:
    statuses = ["SENT", "DELIVERED", "FAILED"]
    reasons = ["INVALID_NUMBER", "OPTED_OUT", "TEXT_BLOCKED: spam", None]
    return [
        sms_record(
            rng.choice(statuses),
            created_at=f"2026-11-{rng.choice([23, 24])}T"
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}."
            f"{rng.randrange(1000):03d}+00:00",
            parts=rng.choice([1, 1, 2, 3, None]),
            priority=rng.choice(["transactional", "bulk", None]),
            reason=rng.choice(reasons),
        )
        for _ in range(count)
    ]


def random_chat(rng: random.Random, count: int) -> list[dict[str, Any]]:
    return [
        {"room": f"room-{rng.randrange(12)}", "sender_sub": f"user-{rng.randrange(40)}"}
        for _ in range(count)
    ]


def pages(records: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(records), size):
        yield records[start : start + size]


def test_sms_fold_counts_every_number() -> None:
    records = [
        sms_record("DELIVERED", parts=2, created_at="2026-11-23T15:00:00.000+00:00"),  # 00 KST
        sms_record("SENT", parts=1, priority="bulk", created_at="2026-11-24T14:59:59.999+00:00"),
        sms_record("FAILED", parts=3, reason="INVALID_NUMBER"),
        sms_record("FAILED", parts=1, reason="INVALID_NUMBER"),
        sms_record("FAILED", parts=None, reason=None, priority=None),
    ]
    tally = fold_sms(pages(records, 2), zone=SEOUL)
    assert tally.jobs == 5
    assert tally.by_status == {"DELIVERED": 1, "FAILED": 3, "SENT": 1}
    assert tally.failed_by_reason == {"INVALID_NUMBER": 2, "UNKNOWN": 1}
    assert tally.parts_by_status == {"DELIVERED": 2, "FAILED": 4, "SENT": 1}
    assert tally.by_priority == {"bulk": 1, "transactional": 3, "unknown": 1}
    expected_hours = [0] * 24
    expected_hours[0] = 4  # 15:00 and 15:30 UTC are 00:00 and 00:30 in Seoul
    expected_hours[23] = 1
    assert tally.by_hour == expected_hours


def test_sms_hour_falls_back_to_the_index_sort_key() -> None:
    record = {"status": "SENT", "sk_time": "2026-11-24T03:15:00.000+00:00#job-1"}
    assert fold_sms([[record]], zone=SEOUL).by_hour[12] == 1


@pytest.mark.parametrize(
    ("text", "hour"),
    [
        ("2026-11-23T15:00:00.000+00:00", 0),
        ("2026-11-24T14:59:59.999+00:00", 23),
        ("2026-11-24T05:30:00Z", 14),
        ("2026-11-24T05:30:00", 14),  # naive: UTC
        ("2026-11-24T05:30:00.123456+09:00", 5),
        ("2026-11-24T05:30:59.999999-03:30", 18),
        ("2026-11-24T05:30+05:30", 9),
    ],
)
def test_hour_reader(text: str, hour: int) -> None:
    assert hour_reader(SEOUL)(text) == hour


def test_chat_fold_counts_rooms_and_distinct_users() -> None:
    records = [
        {"room": "lobby", "sender_sub": "u1"},
        {"room": "lobby", "sender_sub": "u2"},
        {"room": "team-a", "sender_sub": "u1"},
        {"room": "lobby", "sender_sub": "u1"},
    ]
    tally = fold_chat(pages(records, 3))
    assert tally == ChatTally(messages=4, by_room={"lobby": 3, "team-a": 1}, users=["u1", "u2"])


def test_empty_shards_fold_to_empty_tallies() -> None:
    assert fold_sms([], zone=SEOUL) == SmsTally()
    assert fold_sms([[], []], zone=SEOUL) == SmsTally()
    assert fold_chat([[]]) == ChatTally()
    assert SmsTally.merge_all([]) == SmsTally()
    assert ChatTally.merge_all([]) == ChatTally()


@pytest.mark.parametrize("seed", range(5))
def test_merged_shard_tallies_equal_one_fold_of_everything(seed: int) -> None:
    rng = random.Random(seed)
    sms, chat = random_sms(rng, 600), random_chat(rng, 600)
    shards = 7
    sms_parts = [
        fold_sms(pages(sms[n::shards], rng.randrange(1, 50)), zone=SEOUL) for n in range(shards)
    ]
    chat_parts = [fold_chat(pages(chat[n::shards], rng.randrange(1, 50))) for n in range(shards)]
    assert SmsTally.merge_all(sms_parts) == fold_sms([sms], zone=SEOUL)
    assert ChatTally.merge_all(chat_parts) == fold_chat([chat])
    # Any order, any grouping: same result, same bytes.
    for _ in range(5):
        rng.shuffle(sms_parts)
        rng.shuffle(chat_parts)
        left = SmsTally.merge_all(sms_parts[:3])
        right = SmsTally.merge_all(sms_parts[3:])
        assert SmsTally.merge_all([right, left]) == fold_sms([sms], zone=SEOUL)
        assert ChatTally.merge_all(
            [ChatTally.merge_all(chat_parts[:2]), ChatTally.merge_all(chat_parts[2:])]
        ) == fold_chat([chat])


def test_fold_does_not_depend_on_record_order_or_page_size() -> None:
    rng = random.Random(42)
    records = random_sms(rng, 300)
    reference = fold_sms([records], zone=SEOUL).model_dump_json()
    for size in (1, 7, 300, 1000):
        shuffled = records[:]
        rng.shuffle(shuffled)
        assert fold_sms(pages(shuffled, size), zone=SEOUL).model_dump_json() == reference


def test_merging_every_permutation_of_three_gives_identical_partial_bytes() -> None:
    rng = random.Random(7)
    parts = [fold_chat([random_chat(rng, 50)]) for _ in range(3)]
    outputs = {
        PartialDocument.of("2026-11-24", "chat", 0, ChatTally.merge_all(order)).to_bytes()
        for order in itertools.permutations(parts)
    }
    assert len(outputs) == 1


def test_tallies_serialise_sorted_whatever_the_insertion_order() -> None:
    one = ChatTally(messages=3, by_room={"b": 1, "a": 2}, users=["z", "a", "z"])
    two = ChatTally(messages=3, by_room={"a": 2, "b": 1}, users=["a", "z"])
    assert one.model_dump_json() == two.model_dump_json()
    assert one.users == ["a", "z"]
    assert list(one.by_room) == ["a", "b"]


def test_partial_document_round_trips() -> None:
    tally = fold_sms([random_sms(random.Random(1), 40)], zone=SEOUL)
    document = PartialDocument.of("2026-11-24", "sms", 5, tally)
    data = document.to_bytes()
    assert b" " not in data.replace(b"TEXT_BLOCKED: spam", b"")  # compact
    again = PartialDocument.from_bytes(data)
    assert again == document
    assert again.tally == tally
    assert again.records == 40
    assert again.to_bytes() == data


def test_partial_document_refuses_a_tally_of_the_other_source() -> None:
    with pytest.raises(ValidationError, match="exactly one sms tally"):
        PartialDocument(date="2026-11-24", source="sms", shard=0, records=0, chat=ChatTally())
    with pytest.raises(ValidationError, match="records does not match"):
        PartialDocument(date="2026-11-24", source="chat", shard=0, records=2, chat=ChatTally())
    with pytest.raises(ValidationError):
        SmsTally(by_hour=[0] * 23)


# --- The fold's output pinned on a fixed dataset (odd values, offsets, zones with DST) ---------

MISSING = object()  # a field the item does not have
PIN_INSTANTS = (
    # (first UTC instant, seconds spanned): a Seoul day, both US DST changes, Lord Howe's
    # half-hour DST change (2026-04-05 02:00 +11:00 -> 01:30 +10:30), a day crossing in UTC.
    (datetime(2026, 11, 23, 15, tzinfo=UTC), 86_400),
    (datetime(2026, 3, 8, 5, tzinfo=UTC), 4 * 3600),
    (datetime(2026, 11, 1, 4, tzinfo=UTC), 4 * 3600),
    (datetime(2026, 4, 4, 14, tzinfo=UTC), 2 * 3600),
    (datetime(2026, 12, 31, 22, tzinfo=UTC), 4 * 3600),
)
PIN_ZONES = ("Asia/Seoul", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")


def created_at_text(rng: random.Random, at: datetime) -> object:
    """`at` written the ways a record may hold it (the sender writes the first one)."""
    forms: list[object] = [
        at.isoformat(timespec="milliseconds"),
        at.isoformat(timespec="milliseconds"),
        at.isoformat(timespec="microseconds"),
        at.isoformat(timespec="seconds"),
        at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        at.replace(tzinfo=None).isoformat(timespec="milliseconds"),  # naive: UTC
        at.astimezone(timezone(timedelta(hours=9))).isoformat(timespec="milliseconds"),
        at.astimezone(timezone(-timedelta(hours=3, minutes=30))).isoformat(),
        at.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(timespec="minutes"),
        "",
        None,
        MISSING,
    ]
    return rng.choice(forms)


def pinned_sms_records(count: int = 6_000, seed: int = 2026) -> list[dict[str, Any]]:
    """Items as the pager yields them, with every kind of missing, empty and odd value."""
    rng = random.Random(seed)
    statuses = ["DELIVERED"] * 6 + ["SENT", "FAILED", "FAILED", "QUEUED", "", None, MISSING]
    statuses += [Decimal("1"), Decimal("1.0")]  # equal numbers, different text
    parts = [Decimal(1)] * 4 + [Decimal(2), Decimal(3), Decimal("2.0"), Decimal(0), 2, None]
    parts += ["3", MISSING]
    priorities = ["transactional", "transactional", "bulk", "", None, MISSING, Decimal(7)]
    reasons = ["INVALID_NUMBER", "OPTED_OUT", "CARRIER: unreachable", "", None, MISSING]
    records: list[dict[str, Any]] = []
    for index in range(count):
        start, span = rng.choice(PIN_INSTANTS)
        at = start + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(10**6))
        fields = {
            "status": rng.choice(statuses),
            "parts": rng.choice(parts),
            "priority": rng.choice(priorities),
            "reason": rng.choice(reasons),
            "created_at": created_at_text(rng, at),
        }
        record = {name: value for name, value in fields.items() if value is not MISSING}
        record["sk_time"] = f"{at.isoformat(timespec='milliseconds')}#job-{index:05d}"
        records.append(record)
    return records


def pinned_chat_records(count: int = 6_000, seed: int = 2026) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rooms: list[object] = [f"room-{n}" for n in range(30)]
    rooms += ["", None, MISSING, Decimal("5"), Decimal("5.0"), ["a", "list"]]
    senders: list[object] = [f"user-{n:03d}" for n in range(300)]
    senders += ["", None, MISSING, Decimal("8"), Decimal("8.00")]
    records: list[dict[str, Any]] = []
    for _ in range(count):
        fields = {"room": rng.choice(rooms), "sender_sub": rng.choice(senders)}
        records.append({name: value for name, value in fields.items() if value is not MISSING})
    return records


def reference_sms_fold(records: list[dict[str, Any]], zone: tzinfo) -> SmsTally:
    """The fold's meaning, one record at a time, every time parsed in full (the oracle)."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    hours = [0] * 24
    for record in records:
        status = str(record.get("status") or "UNKNOWN")
        counts["by_status"][status] += 1
        counts["parts_by_status"][status] += int(record.get("parts") or 0)
        if status == "FAILED":
            counts["failed_by_reason"][str(record.get("reason") or "UNKNOWN")] += 1
        counts["by_priority"][str(record.get("priority") or "unknown")] += 1
        at = datetime.fromisoformat(
            str(record.get("created_at") or record["sk_time"].partition("#")[0])
        )
        hours[(at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(zone).hour] += 1
    return SmsTally(jobs=len(records), by_hour=hours, **{k: dict(v) for k, v in counts.items()})


def reference_chat_fold(records: list[dict[str, Any]]) -> ChatTally:
    rooms = Counter(str(record.get("room") or "(unknown)") for record in records)
    users = {str(record["sender_sub"]) for record in records if record.get("sender_sub")}
    return ChatTally(messages=len(records), by_room=dict(rooms), users=list(users))


def partial_digest(source: Source, tally: SmsTally | ChatTally) -> str:
    return hashlib.sha256(PartialDocument.of("2026-11-24", source, 3, tally).to_bytes()).hexdigest()


# sha256 of the partials the fold gave on the datasets above before it was made faster
# (at commit 4526f02): a faster fold must give the very same bytes.
PINNED_SMS_DIGESTS = {
    "Asia/Seoul": "3a4974cc2c1a0be39b37a0b7f29119e917c666225af7dc6588fea4201014a332",
    "America/New_York": "1c569733e1976a4a597ef24da9138bdbd0dfc6b081ac00d8f345f4ebd5207819",
    "Australia/Lord_Howe": "ff0d1a67086fe4d5c6ab4944175bd05d78521d31d948c2c31cf76e1c33632ada",
    "Asia/Kolkata": "58eb8b9c9cc1bf2fe220224dbed370620565fbd609661651a1daa71e78b7937d",
    "UTC": "640a57f22b330ebfdfd58f52eaf10b8adc1792c1f26cc1668872b1b914ecdb54",
}
PINNED_CHAT_DIGEST = "f5e986f8f47fa9949df245031e722128e451dc1ccbe5f0ed1e8ed33621048f78"


@pytest.mark.parametrize("zone_name", PIN_ZONES)
@pytest.mark.parametrize("page_size", [1, 7, 1000])
def test_sms_fold_output_is_pinned(zone_name: str, page_size: int) -> None:
    # Given a fixed dataset with odd values, every created_at form and DST changes
    records = pinned_sms_records()
    zone = ZoneInfo(zone_name)
    # When it is folded page by page
    tally = fold_sms(pages(records, page_size), zone=zone)
    # Then the partial is the record-by-record oracle's, byte for byte, and the pinned one
    assert tally.model_dump_json() == reference_sms_fold(records, zone).model_dump_json()
    assert partial_digest("sms", tally) == PINNED_SMS_DIGESTS[zone_name]


@pytest.mark.parametrize("page_size", [1, 7, 1000])
def test_chat_fold_output_is_pinned(page_size: int) -> None:
    records = pinned_chat_records()
    tally = fold_chat(pages(records, page_size))
    assert tally.model_dump_json() == reference_chat_fold(records).model_dump_json()
    assert partial_digest("chat", tally) == PINNED_CHAT_DIGEST


def test_odd_values_in_the_middle_of_a_page_are_counted_as_one_by_one() -> None:
    # Given a page whose fourth and seventh records hold values the fast loop cannot take
    records = random_sms(random.Random(3), 10)
    records[3]["status"] = ["not", "hashable"]
    records[6]["parts"] = "2"
    records[6]["priority"] = Decimal("1.0")
    # When it is folded, then it counts as the record-by-record oracle does
    tally = fold_sms([records], zone=SEOUL)
    assert tally.model_dump_json() == reference_sms_fold(records, SEOUL).model_dump_json()
    assert tally.by_status["['not', 'hashable']"] == 1


@pytest.mark.parametrize(
    ("odd", "error"),
    [
        ({"created_at": "yesterday"}, ValueError),
        ({"created_at": Decimal(5)}, ValueError),
        ({"parts": "two"}, ValueError),
        ({"created_at": None, "sk_time": None}, ValueError),
        ({"created_at": None, "sk_time": ["a", "list"]}, ValueError),
    ],
)
def test_a_record_that_cannot_be_read_fails_the_fold(
    odd: dict[str, Any], error: type[Exception]
) -> None:
    # Given a page with one unreadable record among good ones
    records = random_sms(random.Random(4), 5)
    records[2].update(odd)
    # When it is folded, then the fold fails (nothing is counted silently)
    with pytest.raises(error):
        fold_sms([records], zone=SEOUL)


def test_times_without_a_minute_to_cut_at_keep_the_fold_exact() -> None:
    # Given more distinct times of another shape (a space, not "T") than the fold holds as keys
    start = datetime(2026, 11, 23, 15, tzinfo=UTC)
    records = [
        sms_record(created_at=(start + timedelta(seconds=7 * n)).isoformat(sep=" "))
        for n in range(12_000)
    ]
    # When they are folded, then every one is in its Seoul hour
    tally = fold_sms(pages(records, 1000), zone=SEOUL)
    assert tally.by_hour == reference_sms_fold(records, SEOUL).by_hour
    assert sum(tally.by_hour) == 12_000
