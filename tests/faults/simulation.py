"""The SMS fault suite's world: SQS with redrive on a simulated clock, Lambda instances running the
real consumer, an SMS provider service behind the real botocore client, and fault injectors.

Hand-written because no emulator runs SQS on simulated time: a five-minute Redis outage, 180 s
visibility timeouts and backoffs of minutes must pass in seconds. Everything that decides what
happens to a job is the production code (consumer, sender, Powertools idempotency on moto
DynamoDB, the status store, the End User Messaging adapter and its botocore client, the Redis
rate limiter on a real redis-server); this module plays only the parts AWS would play.
"""

from __future__ import annotations

import io
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from courier.sms.segments import segment
from tests.harness import ACCOUNT, REGION

QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:courier-sms-transactional"


class SimulatedCrash(BaseException):
    """The Lambda instance dies here (a BaseException: no `except Exception` may swallow it)."""


class SimClock:
    """Seconds since the epoch, moved by the loop; starts at the wall clock, since Powertools
    stamps idempotency records with the wall clock and the sender compares against this one."""

    def __init__(self) -> None:
        self.now = time.time()
        self._offsets = threading.local()
        self._lock = threading.Lock()
        self.batch_wait = 0.0

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, tz=UTC)

    def sleep(self, seconds: float) -> None:
        """A rate limiter's wait: the send it guards happens `seconds` after the batch began."""
        self._offsets.value = seconds
        with self._lock:
            self.batch_wait = max(self.batch_wait, seconds)

    def send_time(self) -> float:
        """When the calling thread's send happens: now plus the wait its limiter reserved."""
        return self.now + float(getattr(self._offsets, "value", 0.0))


class _Body(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.getvalue()


def _response(url: str, status: int, body: dict[str, Any]) -> AWSResponse:
    headers = {"x-amzn-RequestId": uuid.uuid4().hex, "Content-Type": "application/x-amz-json-1.0"}
    return AWSResponse(url, status, headers, _Body(json.dumps(body).encode()))  # type: ignore[arg-type]


@dataclass
class ProviderService:
    """End User Messaging as its botocore client meets it (a `before-send` handler): it takes a
    message, then answers, or loses the answer (read timeout), or the caller dies first."""

    clock: SimClock
    rng: random.Random
    timeout_after_accept: float = 0.0
    crash_after_accept: float = 0.0
    calls: int = 0
    accepted: Counter[str] = field(default_factory=Counter)
    messages: dict[str, str] = field(default_factory=dict)  # provider message id → job id
    sends: list[tuple[float, int]] = field(default_factory=list)  # (send time, parts)
    timeouts: int = 0
    crashes: int = 0
    crashed_jobs: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        payload = json.loads(request.body)
        job_id = payload["Context"]["job_id"]
        message_id = f"eum-{uuid.uuid4().hex}"
        with self._lock:
            self.calls += 1
            self.accepted[job_id] += 1
            self.messages[message_id] = job_id
            self.sends.append((self.clock.send_time(), segment(payload["MessageBody"]).parts))
            draw = self.rng.random()
        if draw < self.timeout_after_accept:
            with self._lock:
                self.timeouts += 1
            raise ReadTimeoutError(endpoint_url=request.url)
        if draw < self.timeout_after_accept + self.crash_after_accept:
            with self._lock:
                self.crashes += 1
                self.crashed_jobs.append(job_id)
            raise SimulatedCrash("the instance died after the provider accepted")
        return _response(request.url, 200, {"MessageId": message_id})


@dataclass
class DynamoThrottle:
    """DynamoDB answering ProvisionedThroughputExceeded to a share of requests, before moto."""

    rng: random.Random
    rate: float = 0.0
    throttled: int = 0
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        with self._lock:
            self.requests += 1
            if not (self.rate and self.rng.random() < self.rate):
                return None
            self.throttled += 1
        # Pointed away from moto, so only this answer exists: nothing was written.
        request.url = "https://throttled.invalid/"
        return _response(
            request.url,
            400,
            {
                "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                "message": "injected throttling",
            },
        )


@dataclass
class Message:
    body: str
    attributes: dict[str, str]
    message_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    receive_count: int = 0
    visible_at: float = 0.0
    receipt_handle: str = ""
    sent_at: float = 0.0


@dataclass
class DeadLetter:
    body: str
    failure_code: str | None  # None: moved by the redrive policy (maxReceiveCount)


class SimulatedQueue:
    """One standard queue with a redrive policy: visibility, receive counts, delays, DLQ."""

    def __init__(self, clock: SimClock, *, visibility_timeout: int, max_receive_count: int) -> None:
        self._clock = clock
        self._visibility = visibility_timeout
        self._max_receives = max_receive_count
        self._messages: dict[str, Message] = {}
        self._handles: dict[str, str] = {}
        self.dead: list[DeadLetter] = []
        self.sent = 0
        self._lock = threading.Lock()

    def send(
        self, body: str, *, delay: float = 0.0, attributes: dict[str, str] | None = None
    ) -> None:
        with self._lock:
            message = Message(body, dict(attributes or {}), sent_at=self._clock.now)
            message.visible_at = self._clock.now + delay
            self._messages[message.message_id] = message
            self.sent += 1

    def receive(self, limit: int = 10) -> list[Message]:
        now = self._clock.now
        batch: list[Message] = []
        with self._lock:
            for message in sorted(self._messages.values(), key=lambda m: m.visible_at):
                if len(batch) == limit or message.visible_at > now:
                    break
                message.receive_count += 1
                if message.receive_count > self._max_receives:
                    # SQS moves it instead of delivering it, with none of our attributes.
                    del self._messages[message.message_id]
                    self.dead.append(DeadLetter(message.body, None))
                    continue
                message.visible_at = now + self._visibility
                message.receipt_handle = uuid.uuid4().hex
                self._handles[message.receipt_handle] = message.message_id
                batch.append(message)
        return batch

    def delete(self, receipt_handle: str) -> None:
        with self._lock:
            message_id = self._handles.pop(receipt_handle, None)
            if message_id is not None:
                self._messages.pop(message_id, None)

    def change_visibility(self, receipt_handle: str, seconds: int) -> None:
        with self._lock:
            message = self._messages.get(self._handles.get(receipt_handle, ""))
            if message is not None and message.receipt_handle == receipt_handle:
                message.visible_at = self._clock.now + seconds

    def dead_letter(self, body: str, code: str) -> None:
        with self._lock:
            self.dead.append(DeadLetter(body, code))

    def __len__(self) -> int:
        return len(self._messages)

    def next_visible_at(self) -> float | None:
        with self._lock:
            return min((m.visible_at for m in self._messages.values()), default=None)


class SimulatedQueues:
    """The consumer's SQS adapter (`courier.sms.queues.SqsQueues`) on the simulated queue."""

    def __init__(self, queue: SimulatedQueue) -> None:
        self._queue = queue

    def queue_url(self, queue_arn: str) -> str:
        return queue_arn

    def dead_letter(
        self, *, body: str, code: str, reason: str, source_arn: str, source_message_id: str
    ) -> None:
        assert reason, "a dead-lettered job must carry its reason"
        self._queue.dead_letter(body, code)

    def back_off(self, *, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        self._queue.change_visibility(receipt_handle, seconds)

    def requeue(
        self, *, queue_arn: str, body: str, delay_seconds: float, deferrals: int = 0
    ) -> None:
        from courier.sms.queues import DEFERRALS_ATTRIBUTE, MAX_DELAY_SECONDS

        delay = max(0, min(int(delay_seconds + 0.999), MAX_DELAY_SECONDS))
        self._queue.send(body, delay=delay, attributes={DEFERRALS_ATTRIBUTE: str(deferrals)})


def lambda_event(messages: list[Message]) -> dict[str, Any]:
    """What the SQS event source mapping hands the function for these messages."""
    return {
        "Records": [
            {
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": {
                    "ApproximateReceiveCount": str(m.receive_count),
                    "SentTimestamp": str(int(m.sent_at * 1000)),
                },
                "messageAttributes": {
                    name: {"stringValue": value, "dataType": "Number"}
                    for name, value in m.attributes.items()
                },
                "md5OfBody": "-",
                "eventSource": "aws:sqs",
                "eventSourceARN": QUEUE_ARN,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@dataclass
class Instance:
    """One Lambda execution environment: a consumer built on its first invocation."""

    build: Callable[[], Any]
    consumer: Any = None
    busy_until: float = 0.0
    cold_starts: int = 0

    def ensure(self) -> Any:
        if self.consumer is None:
            self.consumer = self.build()
            self.cold_starts += 1
        return self.consumer

    def die(self) -> None:
        # Threads cannot be killed: the batch's other records run to their end first.
        self.consumer._pool.shutdown(wait=True)
        self.consumer = None


@dataclass
class Timeline:
    """What the loop does at given simulated seconds (jobs arriving, Redis stopping...)."""

    arrivals: list[tuple[float, str]]
    events: list[tuple[float, Callable[[], None]]] = field(default_factory=list)


@dataclass
class RunStats:
    invocations: int = 0
    crashed_invocations: int = 0
    redelivered_batches: int = 0
    item_failures: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    sim_seconds: float = 0.0


def run(
    *,
    clock: SimClock,
    queue: SimulatedQueue,
    instances: list[Instance],
    timeline: Timeline,
    context: Any,
    rng: random.Random,
    lost_delete_rate: float = 0.0,
    limit_seconds: float = 6 * 3600,
) -> RunStats:
    """Feed the queue and let the instances poll it, a tick a second, until nothing is left."""
    stats = RunStats()
    start = clock.now
    arrivals = sorted(timeline.arrivals, key=lambda a: a[0])
    events = sorted(timeline.events, key=lambda e: e[0])
    next_arrival = 0
    while True:
        elapsed = clock.now - start
        while events and events[0][0] <= elapsed:
            events.pop(0)[1]()
        while next_arrival < len(arrivals) and arrivals[next_arrival][0] <= elapsed:
            queue.send(arrivals[next_arrival][1])
            next_arrival += 1
        for instance in instances:
            if instance.busy_until > clock.now:
                continue
            messages = queue.receive(10)
            if not messages:
                break
            stats.invocations += 1
            clock.batch_wait = 0.0
            consumer = instance.ensure()
            try:
                response = consumer.process_batch(lambda_event(messages), context)
            except SimulatedCrash:
                # An invocation that dies returns nothing: every record comes back after its
                # visibility timeout, and the environment starts cold next time.
                stats.crashed_invocations += 1
                instance.die()
                continue
            stats.counts.update(consumer.last_batch_counts)
            instance.busy_until = clock.now + clock.batch_wait
            failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
            stats.item_failures += len(failed)
            if lost_delete_rate and rng.random() < lost_delete_rate:
                # The poller's DeleteMessageBatch is lost: SQS hands the whole batch out again.
                stats.redelivered_batches += 1
                continue
            for message in messages:
                if message.message_id not in failed:
                    queue.delete(message.receipt_handle)
        pending = next_arrival < len(arrivals) or events
        if not len(queue) and not pending:
            break
        clock.now += 1.0
        visible_at = queue.next_visible_at()
        upcoming = [] if visible_at is None else [visible_at]
        if next_arrival < len(arrivals):
            upcoming.append(start + arrivals[next_arrival][0])
        if events:
            upcoming.append(start + events[0][0])
        # Nothing to do until the next message shows or the next event: jump there.
        if upcoming and min(upcoming) > clock.now:
            clock.now = min(upcoming)
        if clock.now - start > limit_seconds:
            raise AssertionError(f"the queue did not drain in {limit_seconds} simulated seconds")
    stats.sim_seconds = clock.now - start
    return stats
