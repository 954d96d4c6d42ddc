"""Typed Query bodies counted column by column: the same partial as the record-by-record fold."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from courier.stats.columns import ColumnPage, SmsColumnCounter
from courier.stats.tallies import (
    CHAT_FIELDS,
    SMS_FIELDS,
    SMS_INTEGER_FIELDS,
    PartialDocument,
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
    counter = SmsColumnCounter()
    assert all(isinstance(page, ColumnPage) and counter.count(page) for page in pages)
    assert PartialDocument.of(DAY, "sms", 0, tally).to_bytes() == exact_partial(items)
    assert tally.jobs == 2_000


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
