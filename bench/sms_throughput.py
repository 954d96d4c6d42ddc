"""Jobs per second through the SQS consumer, unlimited and behind the shared Redis rate limiter.

(a) unlimited: one consumer (`build_consumer(...).process_batch`, batches of 10), sandbox provider
    with 0 latency, rate limiter disabled (SMS_RATE_LIMIT_MPS=0).
(b) limited: SMS_RATE_LIMIT_MPS=100, burst 1, REDIS_URL of a private redis-server; CONSUMERS
    consumers run at once in threads, each its own `build_consumer` (own Redis connection, own
    thread pool) pacing on the same Redis key, as concurrent Lambda invocations would.
(c) limiter only (diagnostic): the same CONSUMERS x 10 threads call `RedisRateLimiter.acquire(1)`
    then `provider.send` with no DynamoDB work, to show the limiter's own pacing apart from the
    capacity of the rest of the path.

Rates are measured from the provider's accept timestamps (first to last accepted send), never
including start-up. Single-part GSM messages, so one job is one message is one token.

Prints `bench sms-throughput: ...`; exits 1 when (b) is not within 100 +/- 5%.
"""

from __future__ import annotations

import bisect
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    EmulatorMeter,
    detail,
    drop_metrics,
    lambda_context,
    redis_server,
    silence_logs,
    sms_jobs,
    sms_stack,
    sqs_event,
    summary,
)

if TYPE_CHECKING:
    from courier.settings import Settings
    from courier.sms.providers import OutboundSms, ProviderAccepted
    from courier.sms.providers.sandbox import SandboxProvider
    from courier.sms.sqs_consumer import SqsJobConsumer

BATCH = 10
UNLIMITED_JOBS = 200
LIMITED_JOBS = 600
LIMIT_MPS = 100
CONSUMERS = 3
THREADS_PER_CONSUMER = 10  # SMS_SEND_CONCURRENCY default
TOLERANCE_PCT = 5.0


@dataclass
class AcceptLog:
    """When each message was accepted, across every provider that shares this log."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    times: list[float] = field(default_factory=list)

    def stamp(self) -> None:
        now = time.monotonic()
        with self.lock:
            self.times.append(now)

    def reset(self) -> None:
        with self.lock:
            self.times.clear()

    def rate(self) -> float:
        times = sorted(self.times)
        if len(times) < 2 or times[-1] <= times[0]:
            return float("nan")
        return (len(times) - 1) / (times[-1] - times[0])

    def span(self) -> float:
        return max(self.times) - min(self.times) if self.times else 0.0

    def max_in_window(self, seconds: float = 1.0) -> int:
        """The most sends accepted in any `seconds`-long window."""
        times = sorted(self.times)
        return max(
            (bisect.bisect_left(times, t + seconds) - i for i, t in enumerate(times)), default=0
        )


class StampedProvider:
    """A sandbox provider that logs the moment it accepts each message."""

    name = "sandbox"

    def __init__(self, inner: SandboxProvider, log: AcceptLog) -> None:
        self.inner = inner
        self.log = log

    def send(self, message: OutboundSms) -> ProviderAccepted:
        accepted = self.inner.send(message)
        self.log.stamp()
        return accepted


def make_consumer(settings: Settings, log: AcceptLog) -> tuple[SqsJobConsumer, SandboxProvider]:
    from courier.sms.providers.sandbox import SandboxProvider
    from courier.sms.wiring import build_consumer

    sandbox = SandboxProvider(latency_seconds=0.0)
    return build_consumer(settings, provider=StampedProvider(sandbox, log)), sandbox


def run_consumers(consumers: list[SqsJobConsumer], jobs: list[dict[str, Any]]) -> None:
    """Batches of 10 dealt round-robin to the consumers, each consumer in its own thread."""
    events = [sqs_event(jobs[i : i + BATCH]) for i in range(0, len(jobs), BATCH)]
    errors: list[BaseException] = []

    def work(consumer: SqsJobConsumer, mine: list[dict[str, Any]]) -> None:
        try:
            for event in mine:
                response = consumer.process_batch(event, lambda_context())
                drop_metrics()
                if response.get("batchItemFailures"):
                    raise RuntimeError(f"records failed: {response['batchItemFailures']}")
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=work, args=(consumer, events[n :: len(consumers)]))
        for n, consumer in enumerate(consumers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} consumer(s) failed") from errors[0]


def run_limiter_only(settings: Settings, log: AcceptLog, jobs: int) -> None:
    """CONSUMERS limiters (own Redis connection each) x 10 threads: acquire(1), then send."""
    from courier.sms.providers import OutboundSms
    from courier.sms.providers.sandbox import SandboxProvider
    from courier.sms.wiring import build_rate_limiter

    message = OutboundSms(
        job_id="limiter-only",
        to="+821010000000",
        body="Your code is 000000.",
        message_type="TRANSACTIONAL",
        parts=1,
        encoding="GSM",
    )
    per_thread = jobs // (CONSUMERS * THREADS_PER_CONSUMER)

    def work(limiter: Any, provider: StampedProvider) -> None:
        for _ in range(per_thread):
            limiter.acquire(1)
            provider.send(message)

    threads: list[threading.Thread] = []
    for _ in range(CONSUMERS):
        limiter = build_rate_limiter(settings)
        provider = StampedProvider(SandboxProvider(), log)
        threads += [
            threading.Thread(target=work, args=(limiter, provider))
            for _ in range(THREADS_PER_CONSUMER)
        ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def deviation_pct(rate: float) -> float:
    return (rate - LIMIT_MPS) / LIMIT_MPS * 100


def main() -> int:
    import redis

    with (
        redis_server() as redis_url,
        sms_stack(
            {
                "SMS_SANDBOX_LATENCY_MS": "0",
                "SMS_RATE_LIMIT_MPS": str(LIMIT_MPS),
                "SMS_RATE_LIMIT_BURST": "1",
                "REDIS_URL": redis_url,
            }
        ),
        EmulatorMeter().installed() as meter,
    ):
        from courier.settings import get_settings

        silence_logs()
        limited = get_settings()
        unlimited = limited.model_copy(update={"sms_rate_limit_mps": 0.0})
        key = f"{limited.sms_rate_limit_key}:{limited.sms_provider}"
        admin = redis.Redis.from_url(redis_url)

        # (a) one consumer, no limit
        log_a = AcceptLog()
        consumer_a, _ = make_consumer(unlimited, log_a)
        run_consumers([consumer_a], sms_jobs(BATCH))  # warm-up
        log_a.reset()
        moto_before, calls_before = meter.read()
        cpu_before = time.process_time()
        run_consumers([consumer_a], sms_jobs(UNLIMITED_JOBS))
        cpu_per_job = (time.process_time() - cpu_before) * 1000 / UNLIMITED_JOBS
        moto_after, calls_after = meter.read()
        moto_per_job = (moto_after - moto_before) * 1000 / UNLIMITED_JOBS
        calls_per_job = (calls_after - calls_before) / UNLIMITED_JOBS
        unlimited_rate = log_a.rate()
        if len(log_a.times) != UNLIMITED_JOBS:
            raise RuntimeError(f"(a) accepted {len(log_a.times)} of {UNLIMITED_JOBS}")

        # (b) CONSUMERS consumers at once, one shared Redis limiter key
        log_b = AcceptLog()
        consumers_b = [make_consumer(limited, log_b)[0] for _ in range(CONSUMERS)]
        run_consumers(consumers_b, sms_jobs(BATCH * CONSUMERS))  # warm-up, one batch each
        log_b.reset()
        admin.delete(key)
        run_consumers(consumers_b, sms_jobs(LIMITED_JOBS))
        limited_rate = log_b.rate()
        if len(log_b.times) != LIMITED_JOBS:
            raise RuntimeError(f"(b) accepted {len(log_b.times)} of {LIMITED_JOBS}")

        # (c) the limiter alone, same shape of concurrency
        log_c = AcceptLog()
        admin.delete(key)
        run_limiter_only(limited, log_c, LIMITED_JOBS)
        limiter_rate = log_c.rate()
        admin.close()

    deviation = deviation_pct(limited_rate)
    met = abs(deviation) <= TOLERANCE_PCT
    summary(
        "sms-throughput",
        {
            "unlimited_jobs_per_s": f"{unlimited_rate:.1f}",
            "limited_jobs_per_s": f"{limited_rate:.1f}",
            "limit_mps": LIMIT_MPS,
            "deviation_pct": f"{deviation:+.1f}",
            "consumers": CONSUMERS,
            "limited_jobs": LIMITED_JOBS,
            "limited_seconds": f"{log_b.span():.1f}",
            "limited_max_1s": log_b.max_in_window(),
            "limiter_only_jobs_per_s": f"{limiter_rate:.1f}",
            "limiter_only_deviation_pct": f"{deviation_pct(limiter_rate):+.1f}",
            "limiter_only_max_1s": log_c.max_in_window(),
            "cpu_ms_per_job": f"{cpu_per_job:.1f}",
            "moto_cpu_ms_per_job": f"{moto_per_job:.1f}",
            "target_pct": f"+-{TOLERANCE_PCT:g}",
            "target": "met" if met else "MISSED",
        },
    )
    detail(
        f"(a) unlimited: {UNLIMITED_JOBS} jobs, 1 consumer, "
        f"{log_a.span():.2f}s first->last accept, {calls_per_job:.1f} moto calls/job"
    )
    detail(
        f"(b) limited: {LIMITED_JOBS} jobs, {CONSUMERS} consumers x "
        f"{THREADS_PER_CONSUMER} threads, {log_b.span():.2f}s first->last accept, "
        f"busiest 1s window {log_b.max_in_window()} sends"
    )
    detail(
        f"(c) limiter only: {len(log_c.times)} acquire+send, {CONSUMERS} limiters x "
        f"{THREADS_PER_CONSUMER} threads, {log_c.span():.2f}s, busiest 1s window "
        f"{log_c.max_in_window()} sends"
    )
    if not met and unlimited_rate < LIMIT_MPS:
        detail(
            f"the path itself does {unlimited_rate:.1f} jobs/s here without any limit "
            f"({cpu_per_job:.1f} ms CPU per job, {moto_per_job:.1f} ms of it in moto): "
            f"below {LIMIT_MPS}/s, so the limiter is never the bottleneck; see docs/benchmarks.md"
        )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
