"""Mergeable partial aggregates and the fold that builds them from pages of records.

A tally holds only counters whose size is bounded by the data's vocabulary (statuses, reasons,
priorities, 24 hours, rooms, users), never by the number of records: folding a shard streams its
pages and keeps nothing of a page once it is counted. Merging tallies is exact and
order-independent (sums of integers, unions of sets), so merging the per-shard tallies equals
folding every record at once. Serialised forms are sorted, so equal tallies give equal bytes.

SMS hours are the hour of the record's `created_at` (the sender's first write, the same instant
that put the record in its day) in the service timezone. `status_at` moves when a receipt arrives,
possibly after midnight, so it would put some of a day's jobs in another day's hours.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from itertools import islice
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, NonNegativeInt, model_validator

from courier.stats.columns import (
    SECONDS,
    TEXT_OR_NONE,
    ColumnPage,
    SmsColumnCounter,
    count_chat_columns,
)
from courier.stats.contract import Day, Source

# What the folds read of a record; the adapters project nothing else. Not `created_at`: the
# sender writes it with `sk_time` (`<created_at>#<job_id>`, the index's sort key, so always
# there) in the same write from the same instant, and one attribute less is a smaller page.
SMS_FIELDS = ("status", "reason", "parts", "priority", "sk_time")
CHAT_FIELDS = ("room", "sender_sub")
# The SMS fields the fold reads as whole numbers (the pager decodes them to int, not Decimal).
SMS_INTEGER_FIELDS = ("parts",)

UNKNOWN_STATUS = "UNKNOWN"
UNKNOWN_REASON = "UNKNOWN"
UNKNOWN_PRIORITY = "unknown"
UNKNOWN_ROOM = "(unknown)"

Page = Sequence[Mapping[str, Any]]
# What a pager yields: records, or typed items read column by column (`courier.stats.columns`).
AnyPage = Page | ColumnPage


def _sorted_counts(counts: dict[str, int]) -> dict[str, int]:
    """Keys in order, zeros dropped: a tally has one serialised form."""
    return {key: counts[key] for key in sorted(counts) if counts[key]}


def _sorted_unique(values: list[str]) -> list[str]:
    return sorted(set(values))


Counts = Annotated[dict[str, NonNegativeInt], AfterValidator(_sorted_counts)]
Hours = Annotated[list[NonNegativeInt], Field(min_length=24, max_length=24)]
SortedIds = Annotated[list[str], AfterValidator(_sorted_unique)]


class SmsTally(BaseModel):
    """SMS jobs of a shard (or of merged shards)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    jobs: NonNegativeInt = 0
    by_status: Counts = Field(default_factory=dict)
    failed_by_reason: Counts = Field(default_factory=dict)
    parts_by_status: Counts = Field(default_factory=dict)
    by_priority: Counts = Field(default_factory=dict)
    by_hour: Hours = Field(default_factory=lambda: [0] * 24)

    @property
    def records(self) -> int:
        return self.jobs

    @classmethod
    def merge_all(cls, tallies: Iterable[SmsTally]) -> Self:
        """The sum of `tallies`, read one at a time (none at all: the empty tally)."""
        jobs = 0
        by_status: Counter[str] = Counter()
        failed_by_reason: Counter[str] = Counter()
        parts_by_status: Counter[str] = Counter()
        by_priority: Counter[str] = Counter()
        hours = [0] * 24
        for tally in tallies:
            jobs += tally.jobs
            by_status.update(tally.by_status)
            failed_by_reason.update(tally.failed_by_reason)
            parts_by_status.update(tally.parts_by_status)
            by_priority.update(tally.by_priority)
            hours = [a + b for a, b in zip(hours, tally.by_hour, strict=True)]
        return cls(
            jobs=jobs,
            by_status=dict(by_status),
            failed_by_reason=dict(failed_by_reason),
            parts_by_status=dict(parts_by_status),
            by_priority=dict(by_priority),
            by_hour=hours,
        )


class ChatTally(BaseModel):
    """Chat messages of a shard (or of merged shards), with the users seen (for an exact count)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: NonNegativeInt = 0
    by_room: Counts = Field(default_factory=dict)
    users: SortedIds = Field(default_factory=list)

    @property
    def records(self) -> int:
        return self.messages

    @classmethod
    def merge_all(cls, tallies: Iterable[ChatTally]) -> Self:
        """The sum of `tallies` (users: the union), read one at a time."""
        messages = 0
        by_room: Counter[str] = Counter()
        users: set[str] = set()
        for tally in tallies:
            messages += tally.messages
            by_room.update(tally.by_room)
            users.update(tally.users)
        return cls(messages=messages, by_room=dict(by_room), users=list(users))


Tally = SmsTally | ChatTally


class PartialDocument(BaseModel):
    """A shard's partial aggregate as stored in S3 (`partials/<date>/<run>/<source>-<NN>.json`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    date: Day
    source: Source
    shard: int = Field(ge=0, le=255)
    records: NonNegativeInt
    sms: SmsTally | None = None
    chat: ChatTally | None = None

    @model_validator(mode="after")
    def _one_tally_of_its_source(self) -> Self:
        tally = self.sms if self.source == "sms" else self.chat
        other = self.chat if self.source == "sms" else self.sms
        if tally is None or other is not None:
            raise ValueError(f"a {self.source} partial holds exactly one {self.source} tally")
        if tally.records != self.records:
            raise ValueError("records does not match the tally")
        return self

    @classmethod
    def of(cls, day: str, source: Source, shard: int, tally: Tally) -> PartialDocument:
        return cls(
            date=day,
            source=source,
            shard=shard,
            records=tally.records,
            sms=tally if isinstance(tally, SmsTally) else None,
            chat=tally if isinstance(tally, ChatTally) else None,
        )

    @property
    def tally(self) -> Tally:
        tally = self.sms if self.source == "sms" else self.chat
        assert tally is not None  # checked by the validator
        return tally

    def to_bytes(self) -> bytes:
        """Compact JSON, fields in declaration order, maps sorted: equal partials, equal bytes."""
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> PartialDocument:
        return cls.model_validate_json(data)


_SECONDS = SECONDS
_TEXT_OR_NONE = TEXT_OR_NONE
# Hour keys held before they are turned into hours: a day has 1,440 minutes (times one key per
# offset written); only odd texts (no minute to cut at) could make more, and they are flushed.
_HOUR_KEYS_HELD = 8_192


def _hour_key(text: str) -> str:
    """What decides the hour of an ISO-8601 time: its minute and its offset (not the seconds).

    `2026-11-24T15:04:05.123+00:00` -> `2026-11-24T15:04+00:00`; a text of another shape is its
    own key. `_count_sms_page` inlines this for speed: the two must stay alike.
    """
    if len(text) >= 19 and text[10] == "T" and text[16] == ":":
        return text[:16] + text[19:].lstrip(_SECONDS)
    return text


def _hour_of_key(zone: tzinfo) -> Callable[[str], int]:
    """The hour of day in `zone` of an hour key (naive times are UTC), parsed once per key.

    Any zone, DST or not: the key keeps the minute and the offset, so every instant of a key falls
    in the same hour of the zone (offsets and DST changes move by whole minutes).
    """

    @lru_cache(maxsize=4096)
    def hour_of(key: str) -> int:
        at = datetime.fromisoformat(key)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at.astimezone(zone).hour

    return hour_of


def hour_reader(zone: tzinfo) -> Callable[[str], int]:
    """The hour of day in `zone` of an ISO-8601 time (naive times are UTC)."""
    hour_of = _hour_of_key(zone)
    return lambda text: hour_of(_hour_key(text))


# (status, parts as int, priority, reason) as the records hold them -> records.
RawCombos = dict[tuple[Any, int, Any, Any], int]


class _SmsCounts:
    """The SMS fold's counters, keyed by the text the partial shows."""

    def __init__(self, zone: tzinfo) -> None:
        self.by_status: Counter[str] = Counter()
        self.failed_by_reason: Counter[str] = Counter()
        self.parts_by_status: Counter[str] = Counter()
        self.by_priority: Counter[str] = Counter()
        self.hours = [0] * 24
        self.hour_of = _hour_of_key(zone)

    def add_combos(self, combos: RawCombos) -> None:
        for (status, parts, priority, reason), count in combos.items():
            text = str(status or UNKNOWN_STATUS)
            self.by_status[text] += count
            self.parts_by_status[text] += parts * count
            if text == "FAILED":
                self.failed_by_reason[str(reason or UNKNOWN_REASON)] += count
            self.by_priority[str(priority or UNKNOWN_PRIORITY)] += count

    def add_hour_keys(self, keys: dict[Any, int]) -> None:
        hours, hour_of = self.hours, self.hour_of
        for key, count in keys.items():
            hours[hour_of(str(key))] += count

    def add_records(self, records: Iterable[Mapping[str, Any]], *, hours: bool) -> None:
        """One record at a time, as the fold's meaning reads (odd values included)."""
        for record in records:
            status = str(record.get("status") or UNKNOWN_STATUS)
            self.by_status[status] += 1
            self.parts_by_status[status] += int(record.get("parts") or 0)
            if status == "FAILED":
                self.failed_by_reason[str(record.get("reason") or UNKNOWN_REASON)] += 1
            self.by_priority[str(record.get("priority") or UNKNOWN_PRIORITY)] += 1
            if hours:
                # sk_time (`<created_at>#<job_id>`) is the index's sort key: always there.
                created = record.get("created_at") or str(record["sk_time"]).partition("#")[0]
                self.hours[self.hour_of(_hour_key(str(created)))] += 1


def _count_sms_page(page: Page, combos: RawCombos, hour_keys: dict[Any, int]) -> int:
    """Count the records of `page` by their raw values; returns how many it counted.

    The fold's hot loop: no conversion to text, one dict update per counter. It stops at the
    first record it cannot take as it is (a time or a key that is not text, parts that are not a
    number...); the caller counts the rest one by one, which gives the right count or the error.
    """
    combos_get, hour_keys_get, seconds = combos.get, hour_keys.get, _SECONDS
    record: Mapping[str, Any] | None = None
    try:
        for record in page:
            get = record.get
            text = get("created_at") or record["sk_time"].partition("#")[0]
            if len(text) >= 19 and text[10] == "T" and text[16] == ":":  # _hour_key, inlined
                text = text[:16] + text[19:].lstrip(seconds)
            combo = (get("status"), int(get("parts") or 0), get("priority"), get("reason"))
            # Both reads before either write: a record is counted whole or not at all.
            combo_count, hour_count = combos_get(combo, 0), hour_keys_get(text, 0)
            combos[combo] = combo_count + 1
            hour_keys[text] = hour_count + 1
    except (TypeError, AttributeError, KeyError, ValueError):
        return next(index for index, counted in enumerate(page) if counted is record)
    return len(page)


def _plain_text(combos: RawCombos) -> bool:
    """Whether every status, priority and reason is text (or absent).

    Raw values of other types may be equal yet read differently (`Decimal("1")` and
    `Decimal("1.0")` share a key but not a text): a page with any is counted one record at a time.
    """
    allowed = _TEXT_OR_NONE
    return all(
        type(status) in allowed and type(priority) in allowed and type(reason) in allowed
        for status, _, priority, reason in combos
    )


def fold_sms(pages: Iterable[AnyPage], *, zone: tzinfo) -> SmsTally:
    """Count SMS status records page by page; nothing of a page is kept once it is counted.

    Records are counted by their raw values (status, parts, priority, reason; the hour key), and
    the few distinct keys are turned into the partial's texts and hours afterwards: the same
    numbers as reading each record on its own (`_SmsCounts.add_records`), with less work per
    record (no text conversion, no time parsing, two dict updates). A `ColumnPage` is counted
    column by column (`SmsColumnCounter`), or record by record when that declines.
    """
    jobs = 0
    counts = _SmsCounts(zone)
    hour_keys: dict[Any, int] = {}
    columns = SmsColumnCounter(counts.hour_of)
    for any_page in pages:
        jobs += len(any_page)
        if isinstance(any_page, ColumnPage) and columns.count(any_page):
            if len(columns) > _HOUR_KEYS_HELD:
                counts.add_hour_keys(columns.take_hour_keys())
            continue
        page = any_page.records() if isinstance(any_page, ColumnPage) else any_page
        combos: RawCombos = {}
        counted = _count_sms_page(page, combos, hour_keys)
        if _plain_text(combos):
            counts.add_combos(combos)
        else:
            counts.add_records(islice(page, counted), hours=False)
        if counted < len(page):
            counts.add_records(islice(page, counted, None), hours=True)
        if len(hour_keys) > _HOUR_KEYS_HELD:
            counts.add_hour_keys(hour_keys)
            hour_keys.clear()
    counts.add_hour_keys(hour_keys)
    counts.add_combos(columns.take_combos())
    counts.add_hour_keys(columns.take_hour_keys())
    return SmsTally(
        jobs=jobs,
        by_status=dict(counts.by_status),
        failed_by_reason=dict(counts.failed_by_reason),
        parts_by_status=dict(counts.parts_by_status),
        by_priority=dict(counts.by_priority),
        by_hour=counts.hours,
    )


def fold_chat(pages: Iterable[AnyPage]) -> ChatTally:
    """Count chat messages page by page; the user set is bounded by the users, not the messages.

    A `ColumnPage` of text values is counted column by column (`count_chat_columns`)."""
    messages = 0
    by_room: Counter[str] = Counter()
    users: set[str] = set()
    for any_page in pages:
        if isinstance(any_page, ColumnPage):
            counted = count_chat_columns(any_page)
            if counted is not None:
                rooms, senders = counted
                messages += len(any_page)
                for room, count in rooms.items():
                    by_room[room or UNKNOWN_ROOM] += count
                senders.discard(None)
                senders.discard("")
                users.update(senders)
                continue
        page = any_page.records() if isinstance(any_page, ColumnPage) else any_page
        for record in page:
            messages += 1
            by_room[str(record.get("room") or UNKNOWN_ROOM)] += 1
            sender = record.get("sender_sub")
            if sender:
                users.add(str(sender))
    return ChatTally(messages=messages, by_room=dict(by_room), users=list(users))


def fold(source: Source, pages: Iterable[AnyPage], *, zone: tzinfo) -> Tally:
    return fold_sms(pages, zone=zone) if source == "sms" else fold_chat(pages)
