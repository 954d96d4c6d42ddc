"""SMS day counts from the stream: deltas, partials stored exactly once, merged = today's fold."""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from courier.stats.stream_counts import (
    SmsDelta,
    SmsStatsCounter,
    StreamChange,
    count_changes,
    tally_of,
)
from courier.stats.tallies import SMS_FIELDS, SmsTally, fold_sms

SEOUL = ZoneInfo("Asia/Seoul")
RANK = {"SENT": 1, "UNKNOWN": 1, "DELIVERED": 2, "FAILED": 2}


def image(
    status: str | None = "SENT",
    *,
    at: str = "2026-11-24T00:30:00.000+00:00",
    job: str = "j1",
    parts: int = 1,
    priority: str = "transactional",
    reason: str | None = None,
) -> dict[str, Any]:
    """A status record as the stream's image holds it (numbers as Decimal)."""
    item: dict[str, Any] = {"pk": f"JOB#{job}", "sk_time": f"{at}#{job}", "priority": priority}
    item["parts"] = Decimal(parts)
    if status is not None:
        item["status"] = status
    if reason is not None:
        item["reason"] = reason
    return item


class MemoryPartials:
    """`PartialsStore` in memory; `crash_after` fails the store's n-th write from now on."""

    def __init__(self) -> None:
        self.batches: dict[str, frozenset[str]] = {}
        self.partials: dict[tuple[str, str], SmsDelta] = {}
        self.writes = 0
        self.crash_after: int | None = None

    def _write(self) -> None:
        if self.crash_after is not None:
            if self.crash_after == 0:
                self.crash_after = None
                raise ConnectionError("the function died mid-batch")
            self.crash_after -= 1
        self.writes += 1

    def batch_days(self, batch: str) -> frozenset[str]:
        return self.batches.get(batch, frozenset())

    def note_batch_days(self, batch: str, days: frozenset[str]) -> None:
        self._write()
        self.batches[batch] = days

    def put_partial(self, day: str, batch: str, delta: SmsDelta, records: int) -> None:
        self._write()
        self.partials[day, batch] = SmsDelta.from_json(delta.to_json())

    def delete_partial(self, day: str, batch: str) -> None:
        self._write()
        self.partials.pop((day, batch), None)

    def day_partials(self, day: str) -> Iterator[SmsDelta]:
        return (delta for (d, _), delta in sorted(self.partials.items()) if d == day)


# ---- one record's delta -----------------------------------------------------------------------


def test_an_insert_counts_its_new_image_in_the_day_and_hour_of_sk_time() -> None:
    # Given the sender's first write at 00:30 UTC on the 24th (09:30 in Seoul)
    change = StreamChange("e1", "INSERT", new=image("SENT", parts=2, priority="bulk"))

    # When it is counted
    days = count_changes([change], zone=SEOUL)

    # Then the 24th gains one SENT bulk job of 2 parts in hour 09
    delta = days["2026-11-24"]
    assert (delta.jobs, dict(delta.by_status), dict(delta.parts_by_status)) == (
        1,
        {"SENT": 1},
        {"SENT": 2},
    )
    assert dict(delta.by_priority) == {"bulk": 1}
    assert dict(delta.by_hour) == {9: 1}


def test_a_receipt_moves_the_job_between_statuses_without_adding_a_job() -> None:
    # Given a receipt that turns a SENT job FAILED
    old = image("SENT", parts=3)
    new = image("FAILED", parts=3, reason="CARRIER_UNREACHABLE")

    # When the MODIFY is counted
    delta = count_changes([StreamChange("e2", "MODIFY", old=old, new=new)], zone=SEOUL)[
        "2026-11-24"
    ]

    # Then jobs, priority and hours net to zero and the status moves with its parts
    assert delta.jobs == 0
    assert {k: v for k, v in delta.by_status.items() if v} == {"FAILED": 1, "SENT": -1}
    assert {k: v for k, v in delta.parts_by_status.items() if v} == {"FAILED": 3, "SENT": -3}
    assert dict(delta.failed_by_reason) == {"CARRIER_UNREACHABLE": 1}
    assert not any(delta.by_priority.values())
    assert not any(delta.by_hour.values())


def test_images_without_status_or_sk_time_count_nothing() -> None:
    # Given a claim (no status yet), a receipt before the sender (no sk_time), then the sender
    claim = image(None)
    receipt_first = {"pk": "JOB#j1", "status": "DELIVERED"}
    sender = {**image("SENT"), "status": "DELIVERED"}

    # When the three records are counted
    days = count_changes(
        [
            StreamChange("e1", "INSERT", new=claim),
            StreamChange("e2", "INSERT", new=receipt_first),
            StreamChange("e3", "MODIFY", old=receipt_first, new=sender),
        ],
        zone=SEOUL,
    )

    # Then only the sender's write counts: one DELIVERED job
    assert list(days) == ["2026-11-24"]
    assert (days["2026-11-24"].jobs, dict(days["2026-11-24"].by_status)) == (1, {"DELIVERED": 1})


def test_remove_records_never_subtract() -> None:
    # Given a counted job and the TTL's REMOVE of it
    item = image("DELIVERED")

    # When both are counted
    days = count_changes(
        [StreamChange("e1", "INSERT", new=item), StreamChange("e2", "REMOVE", old=item)],
        zone=SEOUL,
    )

    # Then the job still counts
    assert days["2026-11-24"].jobs == 1


def test_an_unchanged_modify_leaves_no_day_behind() -> None:
    # Given a write that changed nothing the stats read
    item = image("SENT")

    # When it is counted
    days = count_changes([StreamChange("e1", "MODIFY", old=item, new=dict(item))], zone=SEOUL)

    # Then no day has a delta (nothing is written for it)
    assert days == {}


def test_delta_json_round_trips_signed_and_stays_small() -> None:
    # Given a delta with negative counts and many hours
    delta = SmsDelta()
    for hour in range(24):
        delta.jobs += 40
        delta.by_hour[hour] += 40
    delta.by_status.update({"SENT": -500, "DELIVERED": 900, "FAILED": 560})
    delta.failed_by_reason.update({f"REASON_{n}": 50 for n in range(8)})
    delta.parts_by_status.update({"SENT": -900, "DELIVERED": 1800, "FAILED": 999})
    delta.by_priority.update({"bulk": 700, "transactional": 260})

    # When it is written and read back
    text = delta.to_json()

    # Then it is the same delta, in well under 1 KB
    assert SmsDelta.from_json(text) == delta
    assert len(text.encode()) < 700


def test_a_sum_below_zero_reads_as_zero() -> None:
    # Given a receipt for a job sent before the counter was deployed (never added)
    only_receipt = count_changes(
        [StreamChange("e1", "MODIFY", old=image("SENT"), new=image("DELIVERED"))], zone=SEOUL
    )

    # When the day is merged
    tally = tally_of(only_receipt.values())

    # Then SENT does not go below zero
    assert tally.by_status == {"DELIVERED": 1}
    assert tally.jobs == 0


# ---- partials: exactly once over retries ------------------------------------------------------


def changes_over_two_days() -> list[StreamChange]:
    """Receipts of yesterday's jobs and today's sends, in one batch."""
    yesterday = "2026-11-23T05:00:00.000+00:00"
    sent, delivered = image(at=yesterday, job="y"), image("DELIVERED", at=yesterday, job="y")
    return [
        StreamChange("a", "MODIFY", old=sent, new=delivered),
        StreamChange("b", "INSERT", new=image(job="t1")),
        StreamChange("c", "INSERT", new=image(job="t2")),
    ]


def test_a_batch_writes_one_partial_per_day_keyed_by_its_first_record() -> None:
    # Given a batch touching two days
    store = MemoryPartials()

    # When it is counted
    counted = SmsStatsCounter(store, zone=SEOUL).count(changes_over_two_days())

    # Then each day has one partial under the first record's id, and the batch lists both days
    assert sorted(store.partials) == [("2026-11-23", "a"), ("2026-11-24", "a")]
    assert store.batches["a"] == {"2026-11-23", "2026-11-24"}
    assert counted.days == {"2026-11-23": 1, "2026-11-24": 2}


def test_a_retried_batch_overwrites_its_partials() -> None:
    # Given a batch counted once
    store = MemoryPartials()
    counter = SmsStatsCounter(store, zone=SEOUL)
    counter.count(changes_over_two_days())

    # When the mapping delivers it again
    counter.count(changes_over_two_days())

    # Then the days count it once
    assert counter.day_tally("2026-11-24").jobs == 2
    assert counter.day_tally("2026-11-23").by_status == {"DELIVERED": 1}


def test_a_bisected_half_removes_what_the_whole_batch_wrote_for_days_it_does_not_touch() -> None:
    # Given a batch [a, b, c] written whole (its days: the 23rd and the 24th) whose invocation
    # then failed
    store = MemoryPartials()
    counter = SmsStatsCounter(store, zone=SEOUL)
    batch = changes_over_two_days()
    counter.count(batch)

    # When the mapping bisects it: [a] (the 23rd only, same first record), then [b, c]
    counter.count(batch[:1])
    counter.count(batch[1:])

    # Then the 24th holds [b, c] once: the whole batch's partial of it was deleted by [a]
    assert sorted(store.partials) == [("2026-11-23", "a"), ("2026-11-24", "b")]
    assert counter.day_tally("2026-11-24").jobs == 2


# ---- merged partials = today's fold over the final items ---------------------------------------


@dataclass
class SimulatedTable:
    """SmsMessages as the status store writes it (rank/time conditions; facts if_not_exists),
    emitting the stream record of every write that changed the item."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    stream: list[StreamChange] = field(default_factory=list)

    def _emit(self, job: str, old: dict[str, Any] | None) -> None:
        new = dict(self.items[job])
        if old != new:
            name = "INSERT" if old is None else "MODIFY"
            self.stream.append(StreamChange(f"ev-{len(self.stream):06d}", name, old=old, new=new))

    def claim(self, job: str) -> None:
        """The other engineer's idempotency fold: the item exists before any status."""
        old = self.items.get(job)
        self.items.setdefault(job, {"pk": f"JOB#{job}", "claim": "INPROGRESS"})
        self._emit(job, None if old is None else dict(old))

    def write(self, job: str, status: str, at: datetime, facts: dict[str, Any]) -> None:
        old = self.items.get(job)
        item = dict(old or {"pk": f"JOB#{job}"})
        rank = RANK[status]
        if (
            "status_rank" not in item
            or item["status_rank"] < rank
            or (item["status_rank"] == rank and item["status_at"] < at.isoformat())
        ):
            item.update(status=status, status_rank=rank, status_at=at.isoformat())
            if status == "FAILED":
                item["reason"] = facts.get("reason", "CARRIER")
        for key, value in facts.items():
            if key != "reason":
                item.setdefault(key, value)
        self.items[job] = item
        self._emit(job, None if old is None else dict(old))

    def expire(self, job: str) -> None:
        old = self.items.pop(job)
        self.stream.append(StreamChange(f"ev-{len(self.stream):06d}", "REMOVE", old=old))


def simulate_jobs(rng: random.Random, jobs: int) -> SimulatedTable:
    table = SimulatedTable()
    start = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)  # around midnight in Seoul
    pending: list[tuple[str, str, datetime, dict[str, Any]]] = []
    for n in range(jobs):
        job = f"job-{n}"
        created = start + timedelta(minutes=rng.randrange(0, 180), milliseconds=rng.randrange(1000))
        status = rng.choice(["SENT", "SENT", "SENT", "FAILED", "UNKNOWN"])
        facts = {
            "sk_time": f"{created.isoformat(timespec='milliseconds')}#{job}",
            "parts": Decimal(rng.randint(1, 3)),
            "priority": rng.choice(["transactional", "bulk"]),
        }
        if status == "FAILED":
            facts["reason"] = rng.choice(["OPTED_OUT", "INVALID_NUMBER"])
        if rng.random() < 0.5:
            pending.append((job, "CLAIM", created, {}))
        pending.append((job, status, created, facts))
        if status != "FAILED" and rng.random() < 0.8:
            receipt = rng.choice(["DELIVERED", "DELIVERED", "FAILED"])
            at = created + timedelta(minutes=rng.randrange(0, 600))
            pending.append((job, receipt, at, {"reason": "CARRIER_UNREACHABLE"}))
        if rng.random() < 0.2:  # a replayed sender write (SQS redelivery)
            pending.append((job, status, created, facts))
    rng.shuffle(pending)  # receipts may come before the sender's write
    for job, status, at, facts in pending:
        if status == "CLAIM":
            table.claim(job)
        else:
            table.write(job, status, at, facts)
    for job in rng.sample(sorted(table.items), k=len(table.items) // 20):
        table.expire(job)  # TTL: REMOVE records, which the mapping filters out and we ignore
    return table


Batch = list[StreamChange]


def run_stream(
    rng: random.Random, stream: Batch, counter: SmsStatsCounter, store: MemoryPartials
) -> None:
    """Lambda's mapping: batches of the stream in order; an invocation may die after any of its
    writes, then the batch is retried whole or bisected; a success may be delivered again."""
    records = [change for change in stream if change.event_name != "REMOVE"]  # FilterCriteria
    position = 0
    while position < len(records):
        size = rng.randint(1, 40)
        attempt(rng, records[position : position + size], counter, store)
        position += size


def attempt(
    rng: random.Random, batch: Batch, counter: SmsStatsCounter, store: MemoryPartials
) -> None:
    if rng.random() < 0.3:
        store.crash_after = rng.randint(0, 4)
    try:
        counter.count(batch)
    except ConnectionError:
        if len(batch) > 1 and rng.random() < 0.7:  # BisectBatchOnFunctionError
            half = len(batch) // 2
            attempt(rng, batch[:half], counter, store)
            attempt(rng, batch[half:], counter, store)
        else:
            attempt(rng, batch, counter, store)
        return
    store.crash_after = None
    if rng.random() < 0.05:
        counter.count(batch)  # delivered again after a success


def fold_of_day(items: Iterable[dict[str, Any]], day: str) -> SmsTally:
    """Today's fold over the day's final items (those the by_day_shard index held)."""

    def day_of(item: dict[str, Any]) -> str:
        created = datetime.fromisoformat(item["sk_time"].partition("#")[0])
        return created.astimezone(SEOUL).date().isoformat()

    page = [
        {key: item[key] for key in SMS_FIELDS if key in item}
        for item in items
        if "status" in item and "sk_time" in item and day_of(item) == day
    ]
    for record in page:
        record["parts"] = int(record["parts"])
    return fold_sms([page], zone=SEOUL)


@pytest.mark.parametrize("seed", range(12))
def test_merged_partials_equal_the_fold_of_the_final_items(seed: int) -> None:
    # Given random jobs (claims, sends, receipts before and after the send, replays, expiries)
    rng = random.Random(seed)
    table = simulate_jobs(rng, jobs=150)
    removed = [c.old for c in table.stream if c.event_name == "REMOVE" and c.old is not None]
    store = MemoryPartials()
    counter = SmsStatsCounter(store, zone=SEOUL)

    # When the stream goes through the mapping with failures, retries, bisections and replays
    run_stream(rng, table.stream, counter, store)

    # Then each day's merged partials are today's fold over its final items (expired ones too:
    # a day's counts never shrink when its records expire)
    final = [*table.items.values(), *(dict(old) for old in removed)]
    for day in ("2026-11-23", "2026-11-24"):
        assert counter.day_tally(day) == fold_of_day(final, day), day
