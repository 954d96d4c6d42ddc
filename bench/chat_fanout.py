"""One chat send to a room of 1,000 members: our `ChatChannel` against the AWS samples' pattern.

`@connections` is modelled as I/O latency: every `PostToConnection` is one `time.sleep(post_ms)`
(default 5 ms; the sleep releases the GIL as a socket wait does) in `SimulatedConnections`, which
records each post. Both sides post through that same poster.

* ours: the real `ChatChannel` from `courier.chat.wiring.build_channel` (moto DynamoDB for the
  ChatConnections/ChatMessages tables, created from template.yaml; a private redis-server), timed
  around one `channel.handle(sender, SendFrame(...))`: session lookup, membership check, send rate
  limiter, client_msg_id claim, message append (DynamoDB), recent history (Redis), the room's
  members from Redis, the `Fanout` to them on CHAT_FANOUT_WORKERS threads (default 32), the ack.
  Every connection is registered through `RoomState.open_session` + `RoomState.join` (the keys the
  channel reads), queued on Redis pipelines for speed.
* baseline: the pattern of AWS's WebSocket chat samples, made room-aware: every connection is an
  item of a DynamoDB table (moto, key `connection_id`, plus its `room` and `user_name`); a send
  Scans the whole table (paginated, FilterExpression on the room: it still reads every item) and
  posts to each matching connection one after another, through the same poster.

Measured twice: with 10,000 other connections (in 100 other rooms), then after adding 90,000 more
(100,000 others). Medians of interleaved runs (ours 5, baseline 3 per size) after one warm-up
send of ours and one warm-up scan of the baseline. Every run must post exactly one frame to each
of the 1,000 members (ours: the message to 999, the ack to the sender; the baseline: the message
to all 1,000, the sender included, as the Node sample does) and nothing to anyone else. The heap
is collected before every timed run, and frozen after each registration (see `grow`).

The baseline's Scan runs on moto, in this process, and costs far more CPU than DynamoDB's own
time (moto sorts every item by key with Python comparisons on each Scan page), most of all with
100,000 others; its time is printed apart (`baseline_scan_ms`, `baseline_100k_scan_ms`), and the
detail lines give the speedup on the posts alone. See docs/benchmarks.md.

Targets: `speedup = baseline_ms / ours_ms >= 10` (10,000 others) and
`ours_growth = ours_100k_ms / ours_ms <= 1.5`. Prints `bench fanout: ...`; exits 1 when a target
is missed (and fails when a run delivers wrongly).
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import json
import math
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    REGION,
    EmulatorMeter,
    apply_env,
    create_table_from_template,
    detail,
    median,
    redis_server,
    silence_logs,
    summary,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    import redis
    from mypy_boto3_dynamodb.service_resource import Table

    from courier.chat.channel import ChatChannel
    from courier.chat.fanout import ConnectionPoster
    from courier.settings import Settings

MEMBERS = 1_000
OTHERS = 10_000
OTHERS_LARGE = 100_000
OTHER_ROOMS = 100
ROOM = "lobby"
POST_MS = 5.0
RUNS = 5
BASELINE_RUNS = 3
TARGET_SPEEDUP = 10.0
TARGET_GROWTH = 1.5
CONNECTIONS_TABLE = "ChatConnections"
MESSAGES_TABLE = "ChatMessages"
SAMPLE_TABLE = "SampleConnections"  # the baseline's table: the same key schema as ChatConnections
REGISTER_CHUNK = 2_000  # connections per Redis pipeline round trip while registering
TEXT = "Standup moved to 10:30 - same room, same link."
CLIENT_CPU_MS_ENV = "BENCH_CLIENT_CPU_MS"  # as the SMS benchmarks (run_all.py --client-cpu-ms)


class SimulatedConnections:
    """`@connections` as I/O latency: each post waits `latency_seconds`, then is recorded.

    With `cpu_seconds`, each post first burns that much of its thread's CPU with the GIL held,
    standing for the client side of a real `PostToConnection` (botocore serializing, signing and
    parsing), which this poster otherwise skips.
    """

    def __init__(self, latency_seconds: float, cpu_seconds: float = 0.0) -> None:
        self._latency = latency_seconds
        self._cpu = cpu_seconds
        self._lock = threading.Lock()
        self._posts: list[tuple[str, bytes]] = []

    def post(self, connection_id: str, data: bytes) -> None:
        if self._cpu:
            deadline = time.thread_time() + self._cpu
            while time.thread_time() < deadline:  # this thread's own CPU, GIL held
                pass
        time.sleep(self._latency)  # releases the GIL, as a socket read does
        with self._lock:
            self._posts.append((connection_id, data))

    def take(self) -> list[tuple[str, bytes]]:
        """Every post since the last call, in order."""
        with self._lock:
            posts, self._posts = self._posts, []
        return posts


def connection_id(index: int) -> str:
    """A distinct id per index, shaped like API Gateway's (16 base64 characters)."""
    digest = hashlib.blake2b(index.to_bytes(8, "big"), digest_size=11).digest()
    return base64.urlsafe_b64encode(digest).decode()


class _Queued:
    """The Redis client as `RoomState` sees it while connections are registered in bulk.

    `RoomState` opens a pipeline per call and executes it; here every such pipeline is one shared
    pipeline, sent by `send()`, so the same commands on the same keys cost one round trip per
    chunk instead of two per connection. `execute()` answers what `join` unpacks.
    """

    def __init__(self, client: redis.Redis) -> None:
        self._pipe = client.pipeline(transaction=False)

    def pipeline(self, transaction: bool = False) -> _Queued:
        return self

    def execute(self) -> list[int]:
        return [1, 1]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)

    def send(self) -> None:
        self._pipe.execute()


def register(
    client: redis.Redis, settings: Settings, entries: Sequence[tuple[int, str]], expires_at: int
) -> None:
    """Open a session for each (index, room) and join it to its room, through `RoomState`."""
    from courier.chat.presence import RoomState, Session

    for start in range(0, len(entries), REGISTER_CHUNK):
        queued = _Queued(client)
        rooms = RoomState(cast("redis.Redis", queued), recent_limit=settings.chat_history_recent)
        for index, room in entries[start : start + REGISTER_CHUNK]:
            cid = connection_id(index)
            session = Session(
                connection_id=cid, sub=f"u-{index}", name=f"User {index}", room_patterns=(room,)
            )
            rooms.open_session(session, expires_at=expires_at)
            rooms.join(room, cid)
        queued.send()


def populate_sample(table: Table, entries: Sequence[tuple[int, str]]) -> None:
    """The baseline's items: what the sample's $connect stores, plus the connection's room."""
    with table.batch_writer() as writer:
        for index, room in entries:
            writer.put_item(
                Item={
                    "connection_id": connection_id(index),
                    "room": room,
                    "user_name": f"User {index}",
                }
            )


def sample_sendmessage(table: Table, poster: ConnectionPoster, sender: str, body: str) -> float:
    """The samples' sendmessage, room-aware: Scan every connection, post to each in turn.

    As `handle_message` in the AWS SDK for Python example (lambda_chat.py): the sender's name
    (GetItem), one Scan for the connection ids (here paginated and filtered on the room), then
    one `PostToConnection` after another, deleting a connection that is gone. Returns the seconds
    the GetItem + Scan took (the rest is the posts).
    """
    from boto3.dynamodb.conditions import Attr

    from courier.chat.fanout import GoneConnection

    request = json.loads(body)
    start = time.perf_counter()
    item = table.get_item(Key={"connection_id": sender}).get("Item") or {}
    user_name = str(item.get("user_name", "guest"))
    post_data = f"{user_name}: {request['data']}".encode()
    connection_ids: list[str] = []
    scan: dict[str, Any] = {
        "ProjectionExpression": "connection_id",
        "FilterExpression": Attr("room").eq(request["room"]),
    }
    while True:
        page = table.scan(**scan)
        connection_ids.extend(str(item["connection_id"]) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    scanned = time.perf_counter() - start
    for cid in connection_ids:
        try:
            poster.post(cid, post_data)
        except GoneConnection:
            table.delete_item(Key={"connection_id": cid})
    return scanned


@dataclass
class Sample:
    wall_ms: float
    cpu_ms: float  # process CPU, all threads
    moto_ms: float  # CPU moto spent answering DynamoDB calls
    scan_ms: float = 0.0  # baseline only


@dataclass
class Stack:
    channel: ChatChannel
    poster: SimulatedConnections
    sample_table: Table
    meter: EmulatorMeter
    sender: str
    members: frozenset[str]


def timed(stack: Stack, run: Callable[[], float]) -> tuple[Sample, list[tuple[str, bytes]]]:
    # Every run starts from a collected heap, so neither side pays for the other's garbage (the
    # baseline's Scans leave a lot: moto deep-copies each item it reads).
    gc.collect()
    moto_before, _ = stack.meter.read()
    cpu_before = time.process_time()
    start = time.perf_counter()
    scanned = run()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_before
    moto_after, _ = stack.meter.read()
    sample = Sample(wall * 1000, cpu * 1000, (moto_after - moto_before) * 1000, scanned * 1000)
    return sample, stack.poster.take()


def check_one_each(posts: list[tuple[str, bytes]], members: frozenset[str], side: str) -> None:
    counts = Counter(cid for cid, _ in posts)
    strangers = set(counts) - members
    if strangers:
        raise RuntimeError(f"{side}: posted to {len(strangers)} connections outside the room")
    missed = members - set(counts)
    if missed:
        raise RuntimeError(f"{side}: {len(missed)} members got nothing")
    repeated = [cid for cid, count in counts.items() if count != 1]
    if repeated:
        raise RuntimeError(f"{side}: {len(repeated)} members got more than one post")


def ours_once(stack: Stack) -> Sample:
    """One timed send through the channel; raises unless each member got exactly its frame."""
    from courier.chat.frames import SendFrame

    client_msg_id = f"bench-{uuid.uuid4().hex[:16]}"
    frame = SendFrame(room=ROOM, text=TEXT, client_msg_id=client_msg_id)
    counts_before = dict(stack.channel.counts)

    def run() -> float:
        stack.channel.handle(stack.sender, frame)
        return 0.0

    sample, posts = timed(stack, run)
    check_one_each(posts, stack.members, "ours")
    events = {cid: json.loads(data) for cid, data in posts}
    ack = events.pop(stack.sender)
    if ack.get("type") != "ack" or ack.get("duplicate") or ack["client_msg_id"] != client_msg_id:
        raise RuntimeError(f"ours: the sender got {ack} instead of its ack")
    wrong = [
        event
        for event in events.values()
        if event.get("type") != "message"
        or event.get("message_id") != ack["message_id"]
        or event.get("client_msg_id") != client_msg_id
        or event.get("text") != TEXT
    ]
    if wrong:
        raise RuntimeError(f"ours: {len(wrong)} members got another frame, e.g. {wrong[0]}")
    counts = stack.channel.counts
    if counts.get("Deliveries", 0) - counts_before.get("Deliveries", 0) != len(stack.members):
        raise RuntimeError(f"ours: the channel counted other deliveries: {counts}")
    for name in ("DeliveryFailures", "ConnectionsPruned", "DuplicateSends"):
        if counts.get(name, 0) != counts_before.get(name, 0):
            raise RuntimeError(f"ours: unexpected {name}: {counts}")
    return sample


def baseline_once(stack: Stack) -> Sample:
    """One timed sample sendmessage; raises unless each member got the message exactly once."""
    text = f"{TEXT} [{uuid.uuid4().hex[:8]}]"
    body = json.dumps({"action": "sendmessage", "room": ROOM, "data": text})
    sample, posts = timed(
        stack, lambda: sample_sendmessage(stack.sample_table, stack.poster, stack.sender, body)
    )
    check_one_each(posts, stack.members, "baseline")
    expected = f"User 0: {text}".encode()  # the sender is connection 0
    if any(data != expected for _, data in posts):
        raise RuntimeError("baseline: a member got other data")
    return sample


@dataclass
class Phase:
    others: int
    ours: list[Sample]
    baseline: list[Sample]

    @property
    def ours_ms(self) -> float:
        return median([s.wall_ms for s in self.ours])

    @property
    def baseline_ms(self) -> float:
        return median([s.wall_ms for s in self.baseline])

    @property
    def scan_ms(self) -> float:
        return median([s.scan_ms for s in self.baseline])


def measure(stack: Stack, others: int, runs: int, baseline_runs: int) -> Phase:
    """`runs` sends of ours and `baseline_runs` of the baseline, interleaved."""
    phase = Phase(others, [], [])
    for index in range(max(runs, baseline_runs)):
        if index < runs:
            phase.ours.append(ours_once(stack))
        if index < baseline_runs:
            phase.baseline.append(baseline_once(stack))
            detail(
                f"progress: {others} others, run {index + 1}: "
                f"ours {phase.ours[-1].wall_ms:.1f} ms, "
                f"baseline {phase.baseline[-1].wall_ms:.1f} ms "
                f"(GetItem+Scan {phase.baseline[-1].scan_ms:.1f} ms)"
            )
    return phase


def grow(
    client: redis.Redis,
    settings: Settings,
    sample_table: Table,
    entries: Sequence[tuple[int, str]],
    expires_at: int,
    label: str,
) -> None:
    start = time.perf_counter()
    register(client, settings, entries, expires_at)
    redis_s = time.perf_counter() - start
    start = time.perf_counter()
    populate_sample(sample_table, entries)
    table_s = time.perf_counter() - start
    # moto's table (and Redis' client buffers) now hold millions of long-lived objects in this
    # process; frozen, they are no longer walked by every full collection, which would otherwise
    # land in a timed run (~1 s at 100,000 others) though on AWS they live in other processes.
    gc.collect()
    gc.freeze()
    detail(
        f"progress: registered {len(entries)} {label}: Redis (RoomState) {redis_s:.1f}s, "
        f"baseline table (batch writes) {table_s:.1f}s"
    )


def others_entries(first: int, count: int, offset: int) -> list[tuple[int, str]]:
    """`count` connections from index `first`, dealt round-robin over the other rooms."""
    return [(first + i, f"room-{(offset + i) % OTHER_ROOMS:03d}") for i in range(count)]


def run_phases(args: argparse.Namespace) -> tuple[list[Phase], int]:
    import boto3
    import redis as redis_lib
    from moto import mock_aws

    from courier.chat.presence import RoomState
    from courier.chat.wiring import build_channel
    from courier.settings import get_settings

    with redis_server() as redis_url, mock_aws(), EmulatorMeter().installed() as meter:
        apply_env(
            {
                "POWERTOOLS_SERVICE_NAME": "courier-chat",
                "CHAT_CONNECTIONS_TABLE": CONNECTIONS_TABLE,
                "CHAT_MESSAGES_TABLE": MESSAGES_TABLE,
                "REDIS_URL": redis_url,
            }
        )
        silence_logs()
        settings = get_settings()
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table_from_template(dynamodb, "ChatConnectionsTable", CONNECTIONS_TABLE)
        create_table_from_template(dynamodb, "ChatMessagesTable", MESSAGES_TABLE)
        create_table_from_template(dynamodb, "ChatConnectionsTable", SAMPLE_TABLE)
        sample_table = boto3.resource("dynamodb", region_name=REGION).Table(SAMPLE_TABLE)
        client = redis_lib.Redis.from_url(redis_url)
        poster = SimulatedConnections(args.post_ms / 1000, args.client_cpu_ms / 1000)
        channel = build_channel(settings, poster)

        members = [(index, ROOM) for index in range(args.members)]
        first_others = others_entries(args.members, args.others, 0)
        more_others = others_entries(
            args.members + args.others, args.others_large - args.others, args.others
        )
        every_id = {connection_id(i) for i, _ in [*members, *first_others, *more_others]}
        if len(every_id) != args.members + args.others_large:
            raise RuntimeError("connection ids collide")
        expires_at = int(time.time()) + settings.chat_connection_ttl_seconds
        stack = Stack(
            channel=channel,
            poster=poster,
            sample_table=sample_table,
            meter=meter,
            sender=connection_id(0),
            members=frozenset(connection_id(i) for i, _ in members),
        )
        rooms = RoomState(client, recent_limit=settings.chat_history_recent)
        if rooms.members(ROOM):
            raise RuntimeError("the room is not empty before registering")

        grow(client, settings, sample_table, [*members, *first_others], expires_at, "connections")
        if frozenset(rooms.members(ROOM)) != stack.members:
            raise RuntimeError("the room's members in Redis are not the registered ones")
        # Warm-up: one send of ours (checked, untimed), one GetItem+Scan of the baseline (its posts
        # to a poster without latency, discarded).
        ours_once(stack)
        warm_up = json.dumps({"room": ROOM, "data": "warm-up"})
        sample_sendmessage(sample_table, SimulatedConnections(0), stack.sender, warm_up)
        phases = [measure(stack, args.others, args.runs, args.baseline_runs)]

        grow(client, settings, sample_table, more_others, expires_at, "more others")
        phases.append(measure(stack, args.others_large, args.runs, args.baseline_runs))
        return phases, settings.chat_fanout_workers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--post-ms", type=float, default=POST_MS, help="latency of one post")
    parser.add_argument(
        "--client-cpu-ms",
        type=float,
        default=float(os.environ.get(CLIENT_CPU_MS_ENV, 0)),
        help=f"CPU burnt per post, client side (default: ${CLIENT_CPU_MS_ENV} or 0)",
    )
    parser.add_argument("--runs", type=int, default=RUNS, help="timed sends of ours per size")
    parser.add_argument(
        "--baseline-runs", type=int, default=BASELINE_RUNS, help="timed baseline sends per size"
    )
    parser.add_argument("--members", type=int, default=MEMBERS)
    parser.add_argument("--others", type=int, default=OTHERS)
    parser.add_argument("--others-large", type=int, default=OTHERS_LARGE)
    args = parser.parse_args(argv)
    if min(args.runs, args.baseline_runs) < 1 or args.members < 2:
        parser.error("--runs and --baseline-runs must be >= 1, --members >= 2")
    if args.post_ms < 0 or args.client_cpu_ms < 0:
        parser.error("--post-ms and --client-cpu-ms must not be negative")
    if not 0 <= args.others <= args.others_large:
        parser.error("--others must be between 0 and --others-large")

    started = time.perf_counter()
    (small, large), workers = run_phases(args)
    speedup = small.baseline_ms / small.ours_ms
    growth = large.ours_ms / small.ours_ms
    met = speedup >= TARGET_SPEEDUP and growth <= TARGET_GROWTH
    fields: dict[str, object] = {
        "ours_ms": f"{small.ours_ms:.1f}",
        "baseline_ms": f"{small.baseline_ms:.1f}",
        "speedup": f"{speedup:.1f}",
        "members": args.members,
        "others": args.others,
        "ours_100k_ms": f"{large.ours_ms:.1f}",
        "baseline_100k_ms": f"{large.baseline_ms:.1f}",
        "ours_growth": f"{growth:.2f}",
        "post_ms": f"{args.post_ms:g}",
        "workers": workers,
        **({"client_cpu_ms": f"{args.client_cpu_ms:g}"} if args.client_cpu_ms else {}),
        "others_100k": args.others_large,
        "runs": args.runs,
        "baseline_runs": args.baseline_runs,
        "baseline_scan_ms": f"{small.scan_ms:.1f}",
        "baseline_100k_scan_ms": f"{large.scan_ms:.1f}",
        "ours_cpu_ms": f"{median([s.cpu_ms for s in small.ours]):.1f}",
        "target_speedup": f">={TARGET_SPEEDUP:g}",
        "target_growth": f"<={TARGET_GROWTH:g}",
        "target": "met" if met else "MISSED",
    }
    summary("fanout", fields)

    posts = args.members - 1
    ours_floor = math.ceil(posts / workers) * args.post_ms + args.post_ms
    detail(
        f"floors: ours >= ceil({posts} posts / {workers} workers) x {args.post_ms:g} ms "
        f"+ {args.post_ms:g} ms (ack) = {ours_floor:g} ms; baseline >= {args.members} x "
        f"{args.post_ms:g} ms = {args.members * args.post_ms:g} ms plus its reads"
    )
    for phase in (small, large):
        posts_only = (phase.baseline_ms - phase.scan_ms) / phase.ours_ms
        detail(
            f"{phase.others} others: speedup {phase.baseline_ms / phase.ours_ms:.1f}, "
            f"posts only (baseline minus its GetItem+Scan) {posts_only:.1f}"
        )
        for label, samples in (("ours", phase.ours), ("baseline", phase.baseline)):
            detail(
                f"{phase.others} others, {label} wall_ms per run: "
                + ", ".join(f"{s.wall_ms:.1f}" for s in samples)
                + "; cpu_ms: "
                + ", ".join(f"{s.cpu_ms:.1f}" for s in samples)
                + "; moto cpu_ms: "
                + ", ".join(f"{s.moto_ms:.1f}" for s in samples)
            )
        detail(
            f"{phase.others} others, baseline GetItem+Scan ms per run: "
            + ", ".join(f"{s.scan_ms:.1f}" for s in phase.baseline)
        )
    detail(f"total run time {time.perf_counter() - started:.0f}s")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
