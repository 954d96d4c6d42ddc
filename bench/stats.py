"""The stats aggregate step over 100,000 and 1,000,000 records of one shard: speed, flat memory.

The real step (`StatsAggregator.aggregate` from `courier.stats.steps`: the fold over pages, the
partial aggregate serialised to JSON, the put to the object store) reads one day-shard through the
same pager interface the DynamoDB adapter implements, `pages(day_shard)`. Here the pager is a
generator that yields pages of 1,000 synthetic records (`--page-size`), each a fresh dict shaped as
`DynamoDayShardPager` returns them (the projected fields only, numbers as `Decimal`); the object
store keeps the partial in memory.

* SMS (the target): statuses, failure reasons, 1-3 parts, both priorities, `created_at` spread
  over the whole Seoul day.
* chat: 500 rooms, a bounded population of 20,000 users (`--users`): the partial carries the
  sorted set of users seen, so its size follows the users, not the records.

Each size runs twice per source, in this process: once untimed by anything but the clock (records
per second, `rps`: records / wall time of the step, generating the records included; the
generator alone is a detail line), then under `tracemalloc` (`peak_mib`: the peak of Python
allocations from the step's start to its end: the page in flight, the tallies, the partial's JSON;
not the interpreter or modules loaded before). tracemalloc, not ru_maxrss: the peak of one step
without the ~60 MiB of interpreter and libraries that would hide any growth.

Targets: `memory_ratio = peak_mib_1m / peak_mib_100k <= 1.2` for SMS and for chat (the summary
line's `memory_ratio` is SMS's; chat's is `chat_memory_ratio`), and `rps_1m >= 1,000,000`
(`target_rps`: SMS records per second over the 1,000,000-record step, the generator included, as
the real step pays its pager). Prints `bench stats: ...`; exits 1 when a target is missed (and
fails if a fold miscounts). A detail line per run gives the step without the generator
(`fold alone`: step seconds minus generator seconds, two separate runs: an estimate).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import detail, summary

if TYPE_CHECKING:
    from courier.stats.contract import Source
    from courier.stats.steps import RecordPager

DAY = "2026-11-24"
SIZES = (100_000, 1_000_000)
PAGE_SIZE = 1_000
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
PARTS = tuple(Decimal(n) for n in (1, 2, 3))
# Every minute of the Seoul day 2026-11-24, as UTC ISO prefixes (15:00 on the 23rd onwards).
MINUTES = tuple(
    f"2026-11-{23 + (15 * 60 + m) // 1440}T{(15 * 60 + m) % 1440 // 60:02d}:{m % 60:02d}"
    for m in range(1440)
)


class SyntheticSmsPager:
    """Pages of SMS status records as `DynamoDayShardPager` yields them, made up on the fly."""

    def __init__(self, count: int, page_size: int) -> None:
        self.count = count
        self.page_size = page_size

    def pages(self, day_shard: str) -> Iterator[list[dict[str, Any]]]:
        for start in range(0, self.count, self.page_size):
            page: list[dict[str, Any]] = []
            for i in range(start, min(start + self.page_size, self.count)):
                status = STATUSES[i % 20]
                created = f"{MINUTES[i % 1440]}:{i // 1440 % 60:02d}.{i % 1000:03d}+00:00"
                record: dict[str, Any] = {
                    "status": status,
                    "parts": PARTS[(i % 7 == 0) + (i % 31 == 0)],
                    "priority": "bulk" if i % 3 == 0 else "transactional",
                    "created_at": created,
                    "sk_time": f"{created}#bench-{i:08d}",
                }
                if status == "FAILED":
                    record["reason"] = REASONS[i % len(REASONS)]
                page.append(record)
            yield page


class SyntheticChatPager:
    """Pages of chat messages: rooms and senders drawn from bounded populations."""

    def __init__(self, count: int, page_size: int, *, users: int, rooms: int) -> None:
        self.count = count
        self.page_size = page_size
        self.users = [f"user-{n:06d}-{'x' * 24}" for n in range(users)]  # ~uuid-sized subs
        self.rooms = [f"room-{n:04d}" for n in range(rooms)]

    def pages(self, day_shard: str) -> Iterator[list[dict[str, Any]]]:
        users, rooms = self.users, self.rooms
        state = 12345
        for start in range(0, self.count, self.page_size):
            page: list[dict[str, Any]] = []
            for _ in range(start, min(start + self.page_size, self.count)):
                state = (state * 1103515245 + 12345) & 0x7FFFFFFF  # an LCG: repeatable draws
                page.append(
                    {
                        "room": rooms[state % len(rooms)],
                        "sender_sub": users[(state >> 8) % len(users)],
                    }
                )
            yield page


class MemoryObjects:
    def __init__(self) -> None:
        self.sizes: dict[str, int] = {}

    def put(self, key: str, body: bytes, *, content_type: str) -> str:
        self.sizes[key] = len(body)
        return f"memory://{key}"

    def get(self, key: str) -> bytes:
        raise NotImplementedError


@dataclass
class Figures:
    source: Source
    records: int
    seconds: float
    peak_bytes: int
    generator_seconds: float
    partial_bytes: int

    @property
    def rps(self) -> float:
        return self.records / self.seconds

    @property
    def fold_rps(self) -> float:
        """The step without the generator: an estimate from two runs (0 when lost in the noise)."""
        fold_seconds = self.seconds - self.generator_seconds
        return self.records / fold_seconds if fold_seconds > 0 else 0.0

    @property
    def peak_mib(self) -> float:
        return self.peak_bytes / MIB


def pager_for(source: Source, count: int, args: argparse.Namespace) -> RecordPager:
    if source == "sms":
        return SyntheticSmsPager(count, args.page_size)
    return SyntheticChatPager(count, args.page_size, users=args.users, rooms=args.rooms)


def run_step(
    source: Source, count: int, args: argparse.Namespace, *, traced: bool
) -> tuple[float, int, int]:
    """One aggregate step; returns (wall seconds, tracemalloc peak bytes or 0, partial bytes)."""
    from zoneinfo import ZoneInfo

    from courier.stats.contract import AggregateRequest
    from courier.stats.steps import StatsAggregator

    objects = MemoryObjects()
    aggregator = StatsAggregator(
        pagers={source: pager_for(source, count, args)},
        objects=objects,
        zone=ZoneInfo("Asia/Seoul"),
    )
    task = AggregateRequest(date=DAY, source=source, shard=0, run="bench")
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
        raise RuntimeError(f"{source}: the step counted {ref.records} records, not {count}")
    return seconds, peak, objects.sizes[ref.partial_key]


def drain_seconds(source: Source, count: int, args: argparse.Namespace) -> float:
    """The generator alone: what making up the records costs, without the step."""
    start = time.perf_counter()
    for _ in pager_for(source, count, args).pages(f"{DAY}#00"):
        pass
    return time.perf_counter() - start


def measure(source: Source, count: int, args: argparse.Namespace) -> Figures:
    seconds, _, partial_bytes = run_step(source, count, args, traced=False)
    _, peak, _ = run_step(source, count, args, traced=True)
    return Figures(source, count, seconds, peak, drain_seconds(source, count, args), partial_bytes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--page-size", type=int, default=PAGE_SIZE)
    parser.add_argument("--users", type=int, default=USERS, help="chat user population")
    parser.add_argument("--rooms", type=int, default=ROOMS, help="chat rooms")
    args = parser.parse_args(argv)

    small, large = SIZES
    sources: tuple[Source, ...] = ("sms", "chat")
    figures = {(source, n): measure(source, n, args) for source in sources for n in SIZES}
    sms_small, sms_large = figures["sms", small], figures["sms", large]
    chat_small, chat_large = figures["chat", small], figures["chat", large]
    sms_ratio = sms_large.peak_bytes / sms_small.peak_bytes
    chat_ratio = chat_large.peak_bytes / chat_small.peak_bytes
    met = sms_ratio <= TARGET_RATIO and chat_ratio <= TARGET_RATIO and sms_large.rps >= TARGET_RPS
    summary(
        "stats",
        {
            "records_100k": small,
            "rps_100k": f"{sms_small.rps:.0f}",
            "peak_mib_100k": f"{sms_small.peak_mib:.2f}",
            "records_1m": large,
            "rps_1m": f"{sms_large.rps:.0f}",
            "peak_mib_1m": f"{sms_large.peak_mib:.2f}",
            "memory_ratio": f"{sms_ratio:.3f}",
            "chat_rps_1m": f"{chat_large.rps:.0f}",
            "chat_peak_mib_100k": f"{chat_small.peak_mib:.2f}",
            "chat_peak_mib_1m": f"{chat_large.peak_mib:.2f}",
            "chat_memory_ratio": f"{chat_ratio:.3f}",
            "page_size": args.page_size,
            "target_ratio": f"<={TARGET_RATIO:g}",
            "target_rps": TARGET_RPS,
            "target": "met" if met else "MISSED",
        },
    )
    detail(
        "memory: tracemalloc peak of Python allocations during one aggregate step (page in "
        "flight + tallies + partial JSON), in a run of its own; rps from an untraced run"
    )
    for (source, count), fig in figures.items():
        detail(
            f"{source} {count:,} records: {fig.seconds:.2f} s ({fig.rps:,.0f} records/s), "
            f"generator alone {fig.generator_seconds:.2f} s, fold alone ~{fig.fold_rps:,.0f} "
            f"records/s; peak {fig.peak_mib:.2f} MiB; partial {fig.partial_bytes:,} bytes"
        )
    detail(
        f"chat population: {args.users:,} users, {args.rooms:,} rooms; the partial holds the "
        "users seen, so it grows with them, not with the messages"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
