"""The stats aggregate step over 100,000 and 1,000,000 records of one shard: speed, flat memory.

The real step (`StatsAggregator.aggregate` from `courier.stats.steps`: the fold over pages, the
partial aggregate serialised to JSON, the put to the object store) reads one day-shard through the
same pager interface the DynamoDB adapter implements, `pages(day_shard)`. Here the pager stands in
for DynamoDB's answers: each page of 1,000 records (`--page-size`) is a Query response body in the
wire format (`{"Items": [{"status": {"S": "DELIVERED"}, "parts": {"N": "2"}, ...}]}`, the
projected fields only: `SMS_FIELDS`, `CHAT_FIELDS`), decoded per page by the adapter's own
`QueryBodyDecoder.decode`, built as the wiring builds it: exactly what `DynamoDayShardPager` runs on
a response (in botocore's before-parse hook), so every record is a fresh object and the step pays
the decode. The bodies
are built before the clock starts (`BODIES` distinct pages, served in turn), as the network would
deliver them; the object store keeps the partial in memory.

* SMS (the target): statuses, failure reasons, 1-3 parts, both priorities, `sk_time` spread
  over the whole Seoul day, made by the status store's own `day_shard_keys` (UTC, milliseconds:
  the shape the fold's fast path checks for, so a change of the writer shows here). A worst case
  for the hours: every record of a page in another minute, a page over ~17 UTC hours (DynamoDB
  returns a day-shard in `sk_time` order: ~700 records a minute at 1,000,000 a day).
* chat: 500 rooms, a bounded population of 20,000 users (`--users`): the partial carries the
  sorted set of users seen, so its size follows the users, not the records.

Each size runs twice per source, in this process: once untimed by anything but the clock (records
per second, `rps`: records / wall time of the step: JSON parse + decode + fold + partial), then
under `tracemalloc` (`peak_mib`: the peak of Python allocations from the step's start to its end:
the page in flight, the tallies, the partial's JSON; not the interpreter, modules or the response
bodies made before). tracemalloc, not ru_maxrss: the peak of one step without the ~60 MiB of
interpreter and libraries that would hide any growth.

Detail lines split SMS's 1,000,000-record step (separate runs, so estimates): `json.loads` alone
(for scale: the previous pager's parse), the adapter's decode (what the step pays), the rest (fold
+ partial). For comparison, the old pager's
path on 100,000 records: botocore's model-driven parse of the same bodies plus boto3's
TypeDeserializer (`rps_1m_boto3_deserializer`: the same step, its pages decoded that way).

Targets: `memory_ratio = peak_mib_1m / peak_mib_100k <= 1.2` for SMS and for chat (the summary
line's `memory_ratio` is SMS's; chat's is `chat_memory_ratio`), and `rps_1m >= 1,000,000`
(`target_rps`: SMS records per second over the 1,000,000-record step, decode included, as the
real step pays it). Prints `bench stats: ...`; exits 1 when a target is missed (and fails if a
fold miscounts).

Last figures (2026-12-04, three runs, 2 cores shared with other test suites, load ~2.2; the lines
verbatim in docs/benchmarks.md, stats): `rps_1m` 591,482 / 754,939 / 953,101 (`target=MISSED`;
719,809 before the fold's UTC-hour counting, load ~1.5), `memory_ratio` 1.056-1.063,
`chat_rps_1m` 832,119-1,072,119. About 1 µs of CPU per SMS record is left: msgspec's decode ~0.5
(with freeing the page), the combo tuples ~0.28, the hours ~0.21.
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
# Distinct response bodies per source, served in turn (60,000 distinct SMS records at 1,000 a page).
BODIES = 60
# Every minute of the Seoul day 2026-11-24, as UTC ISO prefixes (15:00 on the 23rd onwards).
MINUTES = tuple(
    f"2026-11-{23 + (15 * 60 + m) // 1440}T{(15 * 60 + m) % 1440 // 60:02d}:{m % 60:02d}"
    for m in range(1440)
)


def sms_item(i: int, store: SmsStatusStore) -> dict[str, dict[str, str]]:
    """The i-th SMS record as DynamoDB sends it (projected fields, wire format); its `sk_time` is
    the status store's own (`day_shard_keys`: UTC, milliseconds)."""
    status = STATUSES[i % 20]
    created = f"{MINUTES[i % 1440]}:{i // 1440 % 60:02d}.{i % 1000:03d}+00:00"
    job_id = f"bench-{i:08d}"
    at = datetime.fromisoformat(created)
    item = {
        "status": {"S": status},
        "parts": {"N": str(PARTS[(i % 7 == 0) + (i % 31 == 0)])},
        "priority": {"S": "bulk" if i % 3 == 0 else "transactional"},
        "sk_time": {"S": store.day_shard_keys(job_id, at)["sk_time"]},
    }
    if status == "FAILED":
        item["reason"] = {"S": REASONS[i % len(REASONS)]}
    return item


class WirePager:
    """Query response bodies (JSON, built once), served in turn up to `count` records, each
    parsed with json.loads and decoded as `decode` says:

    * `wire`: `QueryBodyDecoder.decode`, what `DynamoDayShardPager` runs on a response;
    * `loads`: json.loads only (the items stay in the wire format; for scale);
    * `boto3`: botocore's Query parser on the body, then TypeDeserializer (the old pager's path).
    """

    def __init__(
        self,
        bodies: list[bytes],
        count: int,
        page_size: int,
        decoder: QueryBodyDecoder,
        *,
        decode: str = "wire",
    ) -> None:
        self.bodies = bodies
        self.count = count
        self.page_size = page_size
        self.decode = decode
        self.decoder = decoder

    def pages(self, day_shard: str) -> Iterator[AnyPage]:
        from courier.stats.columns import ColumnPage

        bodies, loads, decode = self.bodies, json.loads, self.decoder.decode
        if self.decode == "boto3":
            yield from self._boto3_pages()
            return
        for number in range(-(-self.count // self.page_size)):
            body, left = bodies[number % len(bodies)], self.count - number * self.page_size
            if self.decode == "loads":
                yield _first(loads(body)["Items"], left)
                continue
            decoded = decode(body)
            if decoded is None:
                raise RuntimeError("the bench's pages hold only S and N")
            page = decoded[0]
            if left < len(page):
                page = page.records()[:left] if isinstance(page, ColumnPage) else page[:left]
            yield page

    def _boto3_pages(self) -> Iterator[list[dict[str, Any]]]:
        import botocore.session
        from boto3.dynamodb.types import TypeDeserializer
        from botocore.parsers import create_parser

        shape = botocore.session.get_session().get_service_model("dynamodb")
        output = shape.operation_model("Query").output_shape
        assert output is not None
        parser, deserialize = create_parser("json"), TypeDeserializer().deserialize
        for number in range(-(-self.count // self.page_size)):
            body = self.bodies[number % len(self.bodies)]
            response = parser.parse({"status_code": 200, "headers": {}, "body": body}, output)
            items = [{k: deserialize(v) for k, v in item.items()} for item in response["Items"]]
            yield _first(items, self.count - number * self.page_size)


def _first(items: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    return items if count >= len(items) else items[:count]


def sms_bodies(page_size: int) -> list[bytes]:
    from courier.sms.status_store import SmsStatusStore

    # Only its key functions are used: no table behind it.
    store = SmsStatusStore(cast(Any, None), timezone="Asia/Seoul", ttl_days=1)
    return [
        json.dumps(
            {
                "Items": [sms_item(n * page_size + i, store) for i in range(page_size)],
                "Count": page_size,
            }
        ).encode()
        for n in range(BODIES)
    ]


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


_BODIES: dict[tuple[Source, int], list[bytes]] = {}


def pager_for(
    source: Source, count: int, args: argparse.Namespace, *, decode: str = "wire"
) -> WirePager:
    key = (source, args.page_size)
    if key not in _BODIES:
        _BODIES[key] = (
            sms_bodies(args.page_size)
            if source == "sms"
            else chat_bodies(args.page_size, users=args.users, rooms=args.rooms)
        )
    return WirePager(_BODIES[key], count, args.page_size, decoder_for(source), decode=decode)


def decoder_for(source: Source) -> QueryBodyDecoder:
    """The body decoder of `source`'s pager, as `stats.wiring.build_aggregator` builds it."""
    from courier.stats.tallies import CHAT_FIELDS, SMS_FIELDS, SMS_INTEGER_FIELDS
    from courier.stats.wire import QueryBodyDecoder
    from courier.stats.wiring import sms_vocabularies

    if source == "chat":
        return QueryBodyDecoder(CHAT_FIELDS)
    return QueryBodyDecoder(
        SMS_FIELDS, integers=SMS_INTEGER_FIELDS, vocabularies=sms_vocabularies()
    )


def run_step(
    source: Source, count: int, args: argparse.Namespace, *, traced: bool, decode: str = "wire"
) -> tuple[float, int, int]:
    """One aggregate step; returns (wall seconds, tracemalloc peak bytes or 0, partial bytes)."""
    from zoneinfo import ZoneInfo

    from courier.stats.contract import AggregateRequest
    from courier.stats.steps import StatsAggregator

    objects = MemoryObjects()
    pager: RecordPager = pager_for(source, count, args, decode=decode)
    aggregator = StatsAggregator(
        pagers={source: pager}, objects=objects, zone=ZoneInfo("Asia/Seoul")
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


def drain_seconds(source: Source, count: int, args: argparse.Namespace, decode: str) -> float:
    """The pager alone (no fold): what serving, parsing and decoding the pages cost."""
    start = time.perf_counter()
    for _ in pager_for(source, count, args, decode=decode).pages(f"{DAY}#00"):
        pass
    return time.perf_counter() - start


def measure(source: Source, count: int, args: argparse.Namespace) -> Figures:
    seconds, _, partial_bytes = run_step(source, count, args, traced=False)
    _, peak, _ = run_step(source, count, args, traced=True)
    return Figures(source, count, seconds, peak, partial_bytes)


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
    loads_seconds = drain_seconds("sms", large, args, "loads")
    decode_seconds = drain_seconds("sms", large, args, "wire")
    fold_seconds = sms_large.seconds - decode_seconds
    boto3_seconds, _, boto3_partial = run_step("sms", small, args, traced=False, decode="boto3")
    _, _, wire_partial = run_step("sms", small, args, traced=False)
    if boto3_partial != wire_partial:
        raise RuntimeError("the old and new decode give partials of different sizes")
    boto3_rps = small / boto3_seconds
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
            f"{source} {count:,} records: {fig.seconds:.2f} s ({fig.rps:,.0f} records/s, "
            f"JSON parse + decode + fold + partial); peak {fig.peak_mib:.2f} MiB; "
            f"partial {fig.partial_bytes:,} bytes"
        )

    def per_record(seconds: float, records: int = large) -> str:
        return f"{seconds / records * 1e6:.2f} us/record"

    detail(
        f"sms {large:,} split (separate runs): the adapter's decode (msgspec, typed) "
        f"{per_record(decode_seconds)} + fold and partial ~{per_record(fold_seconds)} "
        f"= {per_record(sms_large.seconds)}; json.loads alone of the same bodies (the previous "
        f"pager's parse, before its decode) {per_record(loads_seconds)}; generation 0 (the "
        f"{BODIES} response bodies are built before the clock, as the network delivers them)"
    )
    detail(
        f"old path, sms {small:,} records: botocore's Query parse + TypeDeserializer + fold = "
        f"{per_record(boto3_seconds, small)}: rps_1m_boto3_deserializer={boto3_rps:.0f}"
    )
    detail(
        f"chat population: {args.users:,} users, {args.rooms:,} rooms; the partial holds the "
        "users seen, so it grows with them, not with the messages"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
