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
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, NonNegativeInt, model_validator

from courier.stats.contract import Day, Source

# What the folds read of a record; the adapters project nothing else.
SMS_FIELDS = ("status", "reason", "parts", "priority", "created_at", "sk_time")
CHAT_FIELDS = ("room", "sender_sub")

UNKNOWN_STATUS = "UNKNOWN"
UNKNOWN_REASON = "UNKNOWN"
UNKNOWN_PRIORITY = "unknown"
UNKNOWN_ROOM = "(unknown)"

Page = Sequence[Mapping[str, Any]]


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


_SECONDS = ".0123456789"


def hour_reader(zone: tzinfo) -> Callable[[str], int]:
    """The hour of day in `zone` of an ISO-8601 time (naive times are UTC).

    Parsed times are cached per minute: a day has at most 1,440 distinct minutes, so the cache
    stays small while the fold parses each minute once instead of each record.
    """

    @lru_cache(maxsize=4096)
    def hour_of(text: str) -> int:
        at = datetime.fromisoformat(text)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return at.astimezone(zone).hour

    def read(text: str) -> int:
        # `2026-11-24T15:04:05.123+00:00`: the minute and the offset decide the hour.
        if len(text) >= 19 and text[10] == "T" and text[16] == ":":
            return hour_of(text[:16] + text[19:].lstrip(_SECONDS))
        return hour_of(text)

    return read


def fold_sms(pages: Iterable[Page], *, zone: tzinfo) -> SmsTally:
    """Count SMS status records page by page; nothing of a page is kept once it is counted."""
    jobs = 0
    by_status: Counter[str] = Counter()
    failed_by_reason: Counter[str] = Counter()
    parts_by_status: Counter[str] = Counter()
    by_priority: Counter[str] = Counter()
    hours = [0] * 24
    hour_of = hour_reader(zone)
    for page in pages:
        for record in page:
            jobs += 1
            status = str(record.get("status") or UNKNOWN_STATUS)
            by_status[status] += 1
            parts_by_status[status] += int(record.get("parts") or 0)
            if status == "FAILED":
                failed_by_reason[str(record.get("reason") or UNKNOWN_REASON)] += 1
            by_priority[str(record.get("priority") or UNKNOWN_PRIORITY)] += 1
            # sk_time (`<created_at>#<job_id>`) is the index's sort key: always there.
            created = record.get("created_at") or str(record["sk_time"]).partition("#")[0]
            hours[hour_of(str(created))] += 1
    return SmsTally(
        jobs=jobs,
        by_status=dict(by_status),
        failed_by_reason=dict(failed_by_reason),
        parts_by_status=dict(parts_by_status),
        by_priority=dict(by_priority),
        by_hour=hours,
    )


def fold_chat(pages: Iterable[Page]) -> ChatTally:
    """Count chat messages page by page; the user set is bounded by the users, not the messages."""
    messages = 0
    by_room: Counter[str] = Counter()
    users: set[str] = set()
    for page in pages:
        for record in page:
            messages += 1
            by_room[str(record.get("room") or UNKNOWN_ROOM)] += 1
            sender = record.get("sender_sub")
            if sender:
                users.add(str(sender))
    return ChatTally(messages=messages, by_room=dict(by_room), users=list(users))


def fold(source: Source, pages: Iterable[Page], *, zone: tzinfo) -> Tally:
    return fold_sms(pages, zone=zone) if source == "sms" else fold_chat(pages)
