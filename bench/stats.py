"""The daily stats' per-record work, over 100,000 and 1,000,000 records: speed, flat memory.

* SMS (what runs since SMS days are counted from the SmsMessages stream): the stream counter's
  per-record work, `courier.stats.stream_event.stream_changes` (the Lambda event's images
  deserialised, as the handler does) and `courier.stats.stream_counts.count_changes` (the
  signed deltas by day), then each day's partial serialised (`SmsDelta.to_json`), over events
  of 1,000 records (`--batch`: the mapping's BatchSize), half INSERTs of the sender's record
  (SENT or FAILED), half MODIFYs of a receipt (old SENT, new DELIVERED or FAILED), with every
  attribute a status record holds and `sk_time` spread over the whole Seoul day as the status
  store writes it. The partials' puts are left out (DynamoDB's time, priced by `bench cost`).
  Then the stats batch's SMS side: merging the day's partials (one per 1,000-record batch) into
  its tally, reported as a detail.
* chat: the aggregate step (`StatsAggregator.aggregate`) over one day-shard, as before: Query
  response bodies in the wire format (`CHAT_FIELDS`), decoded by the adapter's own
  `QueryBodyDecoder`, folded, the partial serialised; 500 rooms, a bounded population of 20,000
  users (`--users`): the partial carries the sorted set of users seen, so its size follows the
  users, not the records.

Each size runs twice per source, in this process: once timed by the clock only (records per
second, `rps`: records / wall time), then under `tracemalloc` (`peak_mib`: the peak of Python
allocations from the step's start to its end: the batch or page in flight, the counters, the
partial's JSON; not the interpreter, modules or the events and bodies made before the clock).

Targets: `memory_ratio = peak_mib_1m / peak_mib_100k <= 1.2` for SMS's counter and for chat's
fold, and chat's day-shard fold `chat_rps_1m >= 1,000,000` (the fold the batch still runs). The
SMS counter's rate has no target of its own: it runs in the stream's batches, off any deadline,
and its CPU is priced per job by `bench cost`. Prints `bench stats: ...`; exits 1 when a target
is missed (and fails if a count is wrong).

The figures before SMS moved to the stream (2026-12-04; the lines verbatim in docs/benchmarks.md,
stats) measured the SMS day-shard fold: `rps_1m` 591,482-953,101, `memory_ratio` ~1.06.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import detail, summary

if TYPE_CHECKING:
    from courier.sms.status_store import SmsStatusStore
    from courier.stats.contract import Source
    from courier.stats.steps import RecordPager
    from courier.stats.tallies import AnyPage
    from courier.stats.wire import QueryBodyDecoder

DAY = "2026-11-24"
SIZES = (100_000, 1_000_000)
PAGE_SIZE = 1_000
BATCH = 1_000  # the counter's stream mapping BatchSize (template.yaml)
USERS = 20_000
ROOMS = 500
TARGET_RATIO = 1.2
TARGET_RPS = 1_000_000
MIB = 1024 * 1024

STATUSES = ("DELIVERED",) * 16 + ("SENT",) * 2 + ("FAILED",) * 2
REASONS = (
    "INVALID_NUMBER",
    "OPTED_OUT",
    "TOO_MANY_PARTS",
    "CARRIER_UNREACHABLE: Carrier unreachable",
    "BLOCKED: Blocked by the carrier",
    "TTL_EXPIRED",
)
PARTS = (1, 2, 3)
# Distinct chat response bodies and SMS stream events, served in turn (60,000 distinct records).
BODIES = 60
# Every minute of the Seoul day 2026-11-24, as UTC ISO prefixes (15:00 on the 23rd onwards).
MINUTES = tuple(
    f"2026-11-{23 + (15 * 60 + m) // 1440}T{(15 * 60 + m) % 1440 // 60:02d}:{m % 60:02d}"
    for m in range(1440)
)


def _image(i: int, store: SmsStatusStore, status: str) -> dict[str, Any]:
    """The i-th job's status record in the stream's wire format, as the sender writes it (and a
    receipt moves it); its `sk_time` is the status store's own (UTC, milliseconds)."""
    created = f"{MINUTES[i % 1440]}:{i // 1440 % 60:02d}.{i % 1000:03d}+00:00"
    job_id = f"bench-{i:08d}"
    keys = store.day_keys(job_id, datetime.fromisoformat(created))
    image: dict[str, Any] = {
        "pk": {"S": f"JOB#{job_id}"},
        "job_id": {"S": job_id},
        "status": {"S": status},
        "status_rank": {"N": "1" if status == "SENT" else "2"},
        "status_at": {"S": created},
        "sk_time": {"S": keys["sk_time"]},
        "day": {"S": keys["day"]},
        "created_at": {"S": created},
        "parts": {"N": str(PARTS[(i % 7 == 0) + (i % 31 == 0)])},
        "encoding": {"S": "GSM"},
        "priority": {"S": "bulk" if i % 3 == 0 else "transactional"},
        "to_masked": {"S": "+82********78"},
        "country": {"S": "KR"},
        "phone_key": {"S": f"{i:064x}"},
        "provider": {"S": "end-user-messaging"},
        "provider_message_id": {"S": f"{i:032x}"},
        "delivery_receipts": {"S": "expected"},
        "expires_at": {"N": "1771891800"},
    }
    if status == "FAILED":
        image["reason"] = {"S": REASONS[i % len(REASONS)]}
    return image


def stream_events(batch: int) -> list[dict[str, Any]]:
    """`BODIES` Lambda events of `batch` stream records: even records the sender's INSERT, odd
    ones a receipt's MODIFY (old SENT, new DELIVERED or FAILED)."""
    from courier.sms.status_store import SmsStatusStore

    # Only its key functions are used: no table behind it.
    store = SmsStatusStore(cast(Any, None), timezone="Asia/Seoul", ttl_days=1)
    arn = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/SmsMessages/stream/2026-11-24T00:00"
    events = []
    for n in range(BODIES):
        records = []
        for k in range(batch):
            i = n * batch + k
            stream: dict[str, Any] = {
                "Keys": {"pk": {"S": f"JOB#bench-{i:08d}"}},
                "SequenceNumber": f"{100_000_000_000_000_000_000 + i}",
                "SizeBytes": 600,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            }
            if i % 2 == 0:
                name = "INSERT"
                stream["NewImage"] = _image(i, store, "FAILED" if i % 20 == 0 else "SENT")
            else:
                name = "MODIFY"
                stream["OldImage"] = _image(i, store, "SENT")
                stream["NewImage"] = _image(i, store, "FAILED" if i % 19 == 0 else "DELIVERED")
            records.append(
                {
                    "eventID": f"{i:032x}",
                    "eventName": name,
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": "ap-northeast-2",
                    "dynamodb": stream,
                    "eventSourceARN": arn,
                }
            )
        events.append({"Records": records})
    return events


class WirePager:
    """Chat Query response bodies (JSON, built once), served in turn up to `count` records, each
    decoded by `QueryBodyDecoder.decode`: what `DynamoDayShardPager` runs on a response."""

    def __init__(
        self, bodies: list[bytes], count: int, page_size: int, decoder: QueryBodyDecoder
    ) -> None:
        self.bodies = bodies
        self.count = count
        self.page_size = page_size
        self.decoder = decoder

    def pages(self, day_shard: str) -> Iterator[AnyPage]:
        from courier.stats.columns import ColumnPage

        bodies, decode = self.bodies, self.decoder.decode
        for number in range(-(-self.count // self.page_size)):
            body, left = bodies[number % len(bodies)], self.count - number * self.page_size
            decoded = decode(body)
            if decoded is None:
                raise RuntimeError("the bench's pages hold only S and N")
            page = decoded[0]
            if left < len(page):
                page = page.records()[:left] if isinstance(page, ColumnPage) else page[:left]
            yield page


def chat_bodies(page_size: int, *, users: int, rooms: int) -> list[bytes]:
    """Chat pages: rooms and senders drawn from bounded populations (an LCG: repeatable)."""
    user_ids = [f"user-{n:06d}-{'x' * 24}" for n in range(users)]  # ~uuid-sized subs
    room_ids = [f"room-{n:04d}" for n in range(rooms)]
    state, bodies = 12345, []
    for _ in range(BODIES):
        items = []
        for _ in range(page_size):
            state = (state * 1103515245 + 12345) & 0x7FFFFFFF
            items.append(
                {
                    "room": {"S": room_ids[state % rooms]},
                    "sender_sub": {"S": user_ids[(state >> 8) % users]},
                }
            )
        bodies.append(json.dumps({"Items": items, "Count": page_size}).encode())
    return bodies


class MemoryObjects:
    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}

    def put(self, key: str, body: bytes, *, content_type: str) -> str:
        self.sizes[key] = len(body)
        return f"memory://{key}"

    def get(self, key: str) -> bytes:
        raise NotImplementedError


class NoSmsDays:
    """The aggregator's SMS port, unused by the chat step."""

    def day_tally(self, day: str) -> Any:
        raise NotImplementedError


@dataclass
class Figures:
    source: Source
    records: int
    seconds: float
    peak_bytes: int
    partial_bytes: int

    @property
    def rps(self) -> float:
        return self.records / self.seconds

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / MIB


_CHAT_BODIES: dict[int, list[bytes]] = {}
_SMS_EVENTS: dict[int, list[dict[str, Any]]] = {}


def chat_step(count: int, args: argparse.Namespace, *, traced: bool) -> tuple[float, int, int]:
    """One chat aggregate step; returns (wall seconds, tracemalloc peak bytes or 0, partial
    bytes)."""
    from zoneinfo import ZoneInfo

    from courier.stats.contract import AggregateRequest
    from courier.stats.steps import StatsAggregator
    from courier.stats.tallies import CHAT_FIELDS
    from courier.stats.wire import QueryBodyDecoder

    if args.page_size not in _CHAT_BODIES:
        _CHAT_BODIES[args.page_size] = chat_bodies(
            args.page_size, users=args.users, rooms=args.rooms
        )
    objects = MemoryObjects()
    pager: RecordPager = WirePager(
        _CHAT_BODIES[args.page_size], count, args.page_size, QueryBodyDecoder(CHAT_FIELDS)
    )
    aggregator = StatsAggregator(
        sms=NoSmsDays(), chat=pager, objects=objects, zone=ZoneInfo("Asia/Seoul")
    )
    task = AggregateRequest(date=DAY, source="chat", shard=0, run="bench")
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    ref = aggregator.aggregate(task)
    seconds = time.perf_counter() - start
    peak = 0
    if traced:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if ref.records != count:
        raise RuntimeError(f"chat: the step counted {ref.records} records, not {count}")
    return seconds, peak, objects.sizes[ref.partial_key]


def sms_step(
    count: int, args: argparse.Namespace, *, traced: bool
) -> tuple[float, int, int, list[str]]:
    """`count` stream records through the counter's per-record work, batch by batch; returns
    (wall seconds, tracemalloc peak bytes or 0, largest partial's bytes, the partials)."""
    from zoneinfo import ZoneInfo

    from courier.stats.stream_counts import count_changes
    from courier.stats.stream_event import stream_changes

    if args.batch not in _SMS_EVENTS:
        _SMS_EVENTS[args.batch] = stream_events(args.batch)
    events, zone = _SMS_EVENTS[args.batch], ZoneInfo("Asia/Seoul")
    partials: list[str] = []
    largest = 0
    if traced:
        tracemalloc.start()
    start = time.perf_counter()
    for number in range(-(-count // args.batch)):
        event = events[number % len(events)]
        left = count - number * args.batch
        if left < args.batch:
            event = {"Records": event["Records"][:left]}
        for delta in count_changes(stream_changes(event), zone=zone).values():
            text = delta.to_json()
            largest = max(largest, len(text))
            if not traced:
                partials.append(text)
    seconds = time.perf_counter() - start
    peak = 0
    if traced:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return seconds, peak, largest, partials


def measure(source: Source, count: int, args: argparse.Namespace) -> Figures:
    if source == "chat":
        seconds, _, partial_bytes = chat_step(count, args, traced=False)
        _, peak, _ = chat_step(count, args, traced=True)
    else:
        seconds, _, partial_bytes, _ = sms_step(count, args, traced=False)
        _, peak, _, _ = sms_step(count, args, traced=True)
    return Figures(source, count, seconds, peak, partial_bytes)


def merge_seconds(count: int, args: argparse.Namespace) -> tuple[float, int, int]:
    """The batch's SMS side for a day of `count` records: its partials parsed and merged.
    Returns (seconds, partials, jobs counted)."""
    from courier.stats.stream_counts import SmsDelta, tally_of

    _, _, _, partials = sms_step(count, args, traced=False)
    start = time.perf_counter()
    tally = tally_of(SmsDelta.from_json(text) for text in partials)
    return time.perf_counter() - start, len(partials), tally.jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE, help="chat Query page")
    parser.add_argument("--batch", type=int, default=BATCH, help="SMS stream records a batch")
    parser.add_argument("--users", type=int, default=USERS, help="chat user population")
    parser.add_argument("--rooms", type=int, default=ROOMS, help="chat rooms")
    args = parser.parse_args(argv)

    small, large = SIZES
    sources: tuple[Source, ...] = ("sms", "chat")
    figures = {(source, n): measure(source, n, args) for source in sources for n in SIZES}
    sms_small, sms_large = figures["sms", small], figures["sms", large]
    chat_small, chat_large = figures["chat", small], figures["chat", large]
    merge, partials, jobs = merge_seconds(large, args)
    if jobs != large // 2:  # one INSERT per job; the MODIFYs move statuses, not jobs
        raise RuntimeError(f"sms: the partials merge to {jobs} jobs, not {large // 2}")
    sms_ratio = sms_large.peak_bytes / sms_small.peak_bytes
    chat_ratio = chat_large.peak_bytes / chat_small.peak_bytes
    met = sms_ratio <= TARGET_RATIO and chat_ratio <= TARGET_RATIO and chat_large.rps >= TARGET_RPS
    summary(
        "stats",
        {
            "sms_stream_rps_100k": f"{sms_small.rps:.0f}",
            "sms_stream_rps_1m": f"{sms_large.rps:.0f}",
            "sms_stream_peak_mib_100k": f"{sms_small.peak_mib:.2f}",
            "sms_stream_peak_mib_1m": f"{sms_large.peak_mib:.2f}",
            "sms_stream_memory_ratio": f"{sms_ratio:.3f}",
            "sms_merge_ms_1m": f"{merge * 1000:.1f}",
            "chat_rps_1m": f"{chat_large.rps:.0f}",
            "chat_peak_mib_100k": f"{chat_small.peak_mib:.2f}",
            "chat_peak_mib_1m": f"{chat_large.peak_mib:.2f}",
            "chat_memory_ratio": f"{chat_ratio:.3f}",
            "batch": args.batch,
            "page_size": args.page_size,
            "target_ratio": f"<={TARGET_RATIO:g}",
            "target_chat_rps": TARGET_RPS,
            "target": "met" if met else "MISSED",
        },
    )
    detail(
        "memory: tracemalloc peak of Python allocations during one run (the batch or page in "
        "flight + counters + partial JSON), in a run of its own; rps from an untraced run"
    )
    for (source, count), fig in figures.items():
        what = (
            "event deserialise + deltas + partials' JSON"
            if source == "sms"
            else "JSON parse + decode + fold + partial"
        )
        detail(
            f"{source} {count:,} records: {fig.seconds:.2f} s ({fig.rps:,.0f} records/s, "
            f"{what}); peak {fig.peak_mib:.2f} MiB; largest partial {fig.partial_bytes:,} bytes"
        )
    detail(
        f"sms {large:,} records: {sms_large.seconds / large * 1e6:.2f} us/record of counter CPU "
        f"({large // args.batch:,} invocations of {args.batch:,} records); the stats batch "
        f"merges the day's {partials:,} partials in {merge * 1000:.1f} ms"
    )
    detail(
        f"chat population: {args.users:,} users, {args.rooms:,} rooms; the partial holds the "
        "users seen, so it grows with them, not with the messages"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
