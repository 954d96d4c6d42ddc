"""Typed Query bodies counted column by column: the same partial as the record-by-record fold."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from courier.sms.status_store import SmsStatusStore
from courier.stats.columns import ColumnPage, SmsColumnCounter
from courier.stats.tallies import (
    CHAT_FIELDS,
    SMS_FIELDS,
    SMS_INTEGER_FIELDS,
    PartialDocument,
    _hour_of_key,
    fold_chat,
    fold_sms,
)
from courier.stats.wire import QueryBodyDecoder, WireDecoder
from courier.stats.wiring import sms_vocabularies

SEOUL = ZoneInfo("Asia/Seoul")
DAY = "2026-11-24"
OFFSETS = ("+00:00", "+09:00", "Z", "-05:30")


def sms_items(count: int, *, offsets: tuple[str, ...] = OFFSETS) -> list[dict[str, Any]]:
    """Wire items of every shape the writer makes: reasons on failures, parts or priority
    sometimes absent, times in several offsets and second fractions."""
    statuses = ("DELIVERED", "SENT", "FAILED", "UNKNOWN")
    items = []
    for i in range(count):
        status = statuses[i % 4]
        at = f"2026-11-{23 + i % 2}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}"
        fraction = (".123", "", ".5")[i % 3]
        item: dict[str, Any] = {
            "status": {"S": status},
            "sk_time": {"S": f"{at}{fraction}{offsets[i % len(offsets)]}#job-{i}"},
        }
        if i % 5:
            item["parts"] = {"N": str(1 + i % 3)}
        if i % 7:
            item["priority"] = {"S": "bulk" if i % 2 else "transactional"}
        if status == "FAILED":
            item["reason"] = {"S": ("OPTED_OUT", "TTL_EXPIRED", "")[i % 3]}
        items.append(item)
    return items


def body(items: list[dict[str, Any]]) -> bytes:
    return json.dumps({"Items": items, "Count": len(items)}).encode()


def sms_decoder() -> QueryBodyDecoder:
    return QueryBodyDecoder(
        SMS_FIELDS, integers=SMS_INTEGER_FIELDS, vocabularies=sms_vocabularies()
    )


def exact_partial(items: list[dict[str, Any]], source: str = "sms") -> bytes:
    records = WireDecoder(SMS_INTEGER_FIELDS).raw_items(items)
    assert records is not None
    tally = fold_sms([records], zone=SEOUL) if source == "sms" else fold_chat([records])
    return PartialDocument.of(DAY, "sms" if source == "sms" else "chat", 0, tally).to_bytes()


def test_typed_pages_fold_to_the_exact_partial() -> None:
    # Given 2,000 records in pages of 500, decoded the typed way
    items = sms_items(2_000)
    decoded = [sms_decoder().decode(body(items[n : n + 500])) for n in range(0, 2_000, 500)]
    pages = [page for page, _ in filter(None, decoded)]

    # When they are folded column by column
    tally = fold_sms(pages, zone=SEOUL)

    # Then every page was typed and counted by columns, and the partial is the exact fold's
    counter = SmsColumnCounter(_hour_of_key(SEOUL))
    assert all(isinstance(page, ColumnPage) and counter.count(page) for page in pages)
    assert PartialDocument.of(DAY, "sms", 0, tally).to_bytes() == exact_partial(items)
    assert tally.jobs == 2_000


def status_store_items(count: int, *, start: datetime) -> list[dict[str, Any]]:
    """Wire items whose `sk_time` is the status store's own (`day_keys`), `count` of them
    spread over the 24 hours from `start`, out of order (as many minutes per page as can be)."""
    store = SmsStatusStore(cast(Any, None), timezone="Asia/Seoul", ttl_days=1)
    statuses = ("DELIVERED", "SENT", "FAILED", "UNKNOWN")
    step = timedelta(days=1) / count
    items = []
    for i in range(count):
        at = start + step * (i * 7919 % count) + timedelta(milliseconds=i % 1000)
        item: dict[str, Any] = {
            "status": {"S": statuses[i % 4]},
            "sk_time": {"S": store.day_keys(f"job-{i}", at)["sk_time"]},
            "parts": {"N": str(1 + i % 3)},
            "priority": {"S": "bulk" if i % 2 else "transactional"},
        }
        if i % 4 == 2:
            item["reason"] = {"S": ("OPTED_OUT", "TTL_EXPIRED")[i % 8 // 4]}
        items.append(item)
    return items


def fold_outcome(pages: list[Any], zone: tzinfo) -> bytes | str:
    """The partial `pages` fold to, or the name of the error the fold raised."""
    try:
        tally = fold_sms(pages, zone=zone)
    except ValueError as error:
        return type(error).__name__
    return PartialDocument.of(DAY, "sms", 0, tally).to_bytes()


def typed_and_exact_outcomes(items: list[dict[str, Any]], zone: tzinfo) -> tuple[Any, Any]:
    decoded = [sms_decoder().decode(body(items[n : n + 500])) for n in range(0, len(items), 500)]
    typed = [page for page, _ in filter(None, decoded)]
    assert len(typed) == len(decoded)
    records = WireDecoder(SMS_INTEGER_FIELDS).raw_items(items)
    assert records is not None
    return fold_outcome(typed, zone), fold_outcome([records], zone)


@pytest.mark.parametrize(
    ("zone", "start"),
    [
        ("Asia/Seoul", "2026-11-23T15:00:00"),  # whole hours: counted by UTC hour
        ("Asia/Kolkata", "2026-11-23T18:30:00"),  # +05:30: by minute
        ("America/New_York", "2026-03-08T05:00:00"),  # a DST change on whole hours
        ("Australia/Lord_Howe", "2026-04-04T13:00:00"),  # a DST change of 30 minutes
        ("Asia/Seoul", "2026-12-31T15:00:00"),  # a day across two years
    ],
)
def test_status_store_times_fold_to_the_exact_partial_in_any_zone(zone: str, start: str) -> None:
    # Given 2,000 records of one day of `zone` as the status store writes them, pages of 500
    items = status_store_items(2_000, start=datetime.fromisoformat(start).replace(tzinfo=UTC))

    # When they are folded column by column, and record by record
    typed, exact = typed_and_exact_outcomes(items, ZoneInfo(zone))

    # Then both give the same partial, and every page was taken by the columns
    assert isinstance(typed, bytes)
    assert typed == exact
    counter = SmsColumnCounter(_hour_of_key(ZoneInfo(zone)))
    pages = [sms_decoder().decode(body(items[n : n + 500])) for n in range(0, 2_000, 500)]
    assert all(page is not None and counter.count(cast(ColumnPage, page[0])) for page in pages)


@pytest.mark.parametrize(
    ("case", "sk_time"),
    [
        ("an hour of 24", "2026-11-24T24:04:05.123+00:00#j"),
        ("a minute of 61", "2026-11-24T03:61:05.123+00:00#j"),
        ("a day of 32", "2026-11-32T03:04:05.123+00:00#j"),
        ("another offset", "2026-11-24T03:04:05.123+00:30#j"),
        ("microseconds", "2026-11-24T03:04:05.123456+00:00#j"),
        ("another month", "2026-10-24T03:04:05.123+00:00#j"),
        ("a non-ASCII digit", "2026-11-24T03:04:05.\uff11\uff12\uff13+00:00#j"),
        ("a '#' in the head", "2026-11-24T03:04#05.123+00:00#j"),
        ("a short time", "2026-11-24T03:04+00:00#j"),
    ],
)
def test_an_odd_time_among_status_store_ones_reads_as_the_exact_fold_reads_it(
    case: str, sk_time: str
) -> None:
    # Given a day of status store records, one of them with an odd `sk_time`
    items = status_store_items(2_000, start=datetime(2026, 11, 23, 15, tzinfo=UTC))
    items[777] = {**items[777], "sk_time": {"S": json.loads(f'"{sk_time}"')}}

    # When they are folded column by column, and record by record
    typed, exact = typed_and_exact_outcomes(items, SEOUL)

    # Then both give the same partial, or both fail alike
    assert typed == exact, case


@pytest.mark.parametrize(
    ("case", "change"),
    [
        ("a naive time (no offset)", {"sk_time": {"S": "2026-11-24T03:04:05#j"}}),
        ("a status outside the vocabulary", {"status": {"S": "ARCHIVED"}}),
        ("a fractional part count", {"parts": {"N": "2.5"}}),
    ],
)
def test_a_page_the_columns_cannot_take_is_counted_the_exact_way(
    case: str, change: dict[str, Any]
) -> None:
    # Given a page with one odd record among ordinary ones
    items = sms_items(50)
    items[7] = {**items[7], **change}

    # When it is decoded and folded
    decoded = sms_decoder().decode(body(items))
    assert decoded is not None
    tally = fold_sms([decoded[0]], zone=SEOUL)

    # Then the partial is the exact fold's all the same
    assert PartialDocument.of(DAY, "sms", 0, tally).to_bytes() == exact_partial(items), case


def test_chat_pages_fold_to_the_exact_partial() -> None:
    # Given chat records with empty and absent rooms and senders
    items: list[dict[str, Any]] = []
    for i in range(600):
        item: dict[str, Any] = {}
        if i % 11:
            item["room"] = {"S": f"room-{i % 7}" if i % 13 else ""}
        if i % 9:
            item["sender_sub"] = {"S": f"user-{i % 40}" if i % 17 else ""}
        items.append(item)
    decoded = QueryBodyDecoder(CHAT_FIELDS).decode(body(items))
    assert decoded is not None
    assert isinstance(decoded[0], ColumnPage)

    # When they are folded column by column
    tally = fold_chat([decoded[0]])

    # Then the partial is the exact fold's
    assert PartialDocument.of(DAY, "chat", 0, tally).to_bytes() == exact_partial(items, "chat")
    assert tally.messages == 600
