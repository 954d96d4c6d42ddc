"""SMS day counts from the SmsMessages stream: signed deltas per record, partials per batch, merged.

A status record counts in its day as today's fold counted it (`tallies._SmsCounts.add_records`:
`status`, `reason` when FAILED, `parts`, `priority`, and the hour of `sk_time`'s time in the
service timezone; its day is that time's date there). A stream record's delta is what its new
image counts minus what its old image counted; an image without `status` or without `sk_time`
(the claim before a send, a receipt that got there before the sender) counts nothing. Summed
over every change of an item the deltas telescope to what its final image counts, so the deltas
of a day's records, merged, are the fold of that day's items.

Exactly once over stream retries: a batch's deltas are stored as one partial per day, keyed by
the batch's first record (its `eventID`, unique across the stream), and *put*, never added: a
retried batch overwrites its own partials; a bisected batch's halves key on their own first
records and so tile it. The first half shares its key with the whole batch, yet may touch fewer
days: each batch's key lists the days it may have written (`batch days`, written before the
partials), and an attempt deletes the partials of listed days it no longer touches.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Any, Literal, Protocol

from courier.stats.tallies import (
    SMS_FIELDS,
    UNKNOWN_PRIORITY,
    UNKNOWN_REASON,
    UNKNOWN_STATUS,
    SmsTally,
    _hour_key,
)

EventName = Literal["INSERT", "MODIFY", "REMOVE"]
# What an image counts by: the fields today's fold read (`tallies.SMS_FIELDS`).
COUNTED = SMS_FIELDS


@dataclass(frozen=True)
class StreamChange:
    """One stream record as the counter reads it: images as plain values (numbers may be
    Decimal), None where the record has no such image."""

    event_id: str
    event_name: EventName
    old: Mapping[str, Any] | None = None
    new: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Contribution:
    """What one image counts, in its day: the keys of each counter it adds one (or parts) to."""

    day: str
    status: str
    parts: int
    priority: str
    reason: str | None  # FAILED only
    hour: int


@dataclass
class SmsDelta:
    """Signed counts of one day: what a batch of stream records changed (zeros are dropped)."""

    jobs: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    failed_by_reason: Counter[str] = field(default_factory=Counter)
    parts_by_status: Counter[str] = field(default_factory=Counter)
    by_priority: Counter[str] = field(default_factory=Counter)
    by_hour: Counter[int] = field(default_factory=Counter)

    def add(self, item: Contribution, sign: int) -> None:
        self.jobs += sign
        self.by_status[item.status] += sign
        self.parts_by_status[item.status] += sign * item.parts
        if item.reason is not None:
            self.failed_by_reason[item.reason] += sign
        self.by_priority[item.priority] += sign
        self.by_hour[item.hour] += sign

    def merge(self, other: SmsDelta) -> None:
        self.jobs += other.jobs
        for mine, theirs in zip(self._counters(), other._counters(), strict=True):
            mine.update(theirs)

    def _counters(self) -> tuple[Counter[Any], ...]:
        return (
            self.by_status,
            self.failed_by_reason,
            self.parts_by_status,
            self.by_priority,
            self.by_hour,
        )

    def is_zero(self) -> bool:
        return self.jobs == 0 and not any(any(c.values()) for c in self._counters())

    def to_json(self) -> str:
        """Compact JSON, keys sorted, zeros left out (a batch's partial stays well under 1 KB)."""

        def nonzero(counter: Counter[Any]) -> dict[str, int]:
            return {str(key): counter[key] for key in sorted(counter) if counter[key]}

        return json.dumps(
            {
                "jobs": self.jobs,
                "status": nonzero(self.by_status),
                "reason": nonzero(self.failed_by_reason),
                "parts": nonzero(self.parts_by_status),
                "priority": nonzero(self.by_priority),
                "hour": nonzero(self.by_hour),
            },
            separators=(",", ":"),
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> SmsDelta:
        data = json.loads(text)
        return cls(
            jobs=int(data.get("jobs", 0)),
            by_status=Counter({k: int(v) for k, v in data.get("status", {}).items()}),
            failed_by_reason=Counter({k: int(v) for k, v in data.get("reason", {}).items()}),
            parts_by_status=Counter({k: int(v) for k, v in data.get("parts", {}).items()}),
            by_priority=Counter({k: int(v) for k, v in data.get("priority", {}).items()}),
            by_hour=Counter({int(k): int(v) for k, v in data.get("hour", {}).items()}),
        )


def _clamped(counter: Counter[Any]) -> dict[Any, int]:
    return {key: value for key, value in counter.items() if value > 0}


def tally_of(deltas: Iterable[SmsDelta]) -> SmsTally:
    """The day's SmsTally: the sum of its partials' deltas.

    A sum below zero is read as 0: counting starts when the stream consumer is deployed, so a
    receipt for a job sent before then takes from a status that was never added (only days up
    to the deployment's can show it).
    """
    total = SmsDelta()
    for delta in deltas:
        total.merge(delta)
    hours = [max(total.by_hour.get(hour, 0), 0) for hour in range(24)]
    return SmsTally(
        jobs=max(total.jobs, 0),
        by_status=_clamped(total.by_status),
        failed_by_reason=_clamped(total.failed_by_reason),
        parts_by_status=_clamped(total.parts_by_status),
        by_priority=_clamped(total.by_priority),
        by_hour=hours,
    )


def _day_and_hour_reader(zone: tzinfo) -> Callable[[str], tuple[str, int]]:
    """The day and hour in `zone` of an hour key (`tallies._hour_key`), parsed once per key."""

    @lru_cache(maxsize=4096)
    def day_and_hour(key: str) -> tuple[str, int]:
        at = datetime.fromisoformat(key)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        local = at.astimezone(zone)
        return local.date().isoformat(), local.hour

    return day_and_hour


class ContributionReader:
    """What an image counts (None: nothing), with the fold's texts for missing values."""

    def __init__(self, zone: tzinfo) -> None:
        self._day_and_hour = _day_and_hour_reader(zone)

    def __call__(self, image: Mapping[str, Any] | None) -> Contribution | None:
        if not image:
            return None
        status, sk_time = image.get("status"), image.get("sk_time")
        if status is None or sk_time is None:
            return None
        text = str(status or UNKNOWN_STATUS)
        # `sk_time` is `<created_at>#<job_id>`: the sender's first write; hours of a key (its
        # minute and offset) share one day too, so the key is parsed once.
        day, hour = self._day_and_hour(_hour_key(str(sk_time).partition("#")[0]))
        return Contribution(
            day=day,
            status=text,
            parts=int(image.get("parts") or 0),
            priority=str(image.get("priority") or UNKNOWN_PRIORITY),
            reason=str(image.get("reason") or UNKNOWN_REASON) if text == "FAILED" else None,
            hour=hour,
        )


def count_changes(changes: Iterable[StreamChange], *, zone: tzinfo) -> dict[str, SmsDelta]:
    """The batch's deltas by day, days whose delta is zero left out. REMOVE records (TTL expiry,
    deletes) change nothing: a day's counts never shrink because its records expire."""
    return _count(changes, zone)[0]


def _count(
    changes: Iterable[StreamChange], zone: tzinfo
) -> tuple[dict[str, SmsDelta], dict[str, int]]:
    """The deltas by day (zeros left out), and the records that touched each day."""
    read = ContributionReader(zone)
    days: dict[str, SmsDelta] = {}
    records: Counter[str] = Counter()
    for change in changes:
        if change.event_name == "REMOVE":
            continue
        new, old = read(change.new), read(change.old)
        for contribution, sign in ((new, 1), (old, -1)):
            if contribution is not None:
                delta = days.get(contribution.day)
                if delta is None:
                    delta = days[contribution.day] = SmsDelta()
                delta.add(contribution, sign)
        if new is not None:
            records[new.day] += 1
        if old is not None and (new is None or old.day != new.day):
            records[old.day] += 1
    deltas = {day: delta for day, delta in sorted(days.items()) if not delta.is_zero()}
    return deltas, dict(records)


class PartialsStore(Protocol):
    """Where the partials live (the DynamoDB adapter: one item per (day, batch), TTL)."""

    def batch_days(self, batch: str) -> frozenset[str]:
        """The days an earlier attempt of a batch keyed `batch` may have written."""
        ...

    def note_batch_days(self, batch: str, days: frozenset[str]) -> None:
        """Record (overwrite) those days, before the partials are written."""
        ...

    def put_partial(self, day: str, batch: str, delta: SmsDelta, records: int) -> None: ...

    def delete_partial(self, day: str, batch: str) -> None: ...

    def day_partials(self, day: str) -> Iterable[SmsDelta]:
        """Every partial of `day`, each batch once."""
        ...


@dataclass(frozen=True)
class BatchCount:
    """What one invocation counted (for the log line and metrics)."""

    batch: str
    records: int
    days: dict[str, int]  # day -> records that changed its counts
    stale_deleted: int


class SmsStatsCounter:
    """The stream consumer's one domain call: count a batch, store its partials exactly once."""

    def __init__(self, store: PartialsStore, *, zone: tzinfo) -> None:
        self._store = store
        self._zone = zone

    def count(self, changes: Sequence[StreamChange]) -> BatchCount:
        if not changes:
            return BatchCount(batch="", records=0, days={}, stale_deleted=0)
        batch = changes[0].event_id
        deltas, records = _count(changes, self._zone)
        earlier = self._store.batch_days(batch)
        days = frozenset(deltas)
        # The list first, as a superset of what may exist under this key once the puts are done.
        if not days <= earlier:
            self._store.note_batch_days(batch, earlier | days)
        for day, delta in deltas.items():
            self._store.put_partial(day, batch, delta, records.get(day, 0))
        stale = sorted(earlier - days)
        for day in stale:
            self._store.delete_partial(day, batch)
        return BatchCount(
            batch=batch,
            records=len(changes),
            days={day: records.get(day, 0) for day in deltas},
            stale_deleted=len(stale),
        )

    def day_tally(self, day: str) -> SmsTally:
        """The day's counts: every stored partial of it, merged."""
        return tally_of(self._store.day_partials(day))
