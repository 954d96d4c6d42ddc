"""Jobs per second through the SQS consumer, unlimited and behind the shared Redis rate limiter.

Storage is modelled as what it is on AWS, I/O latency (`bench/_simulated.py`): every DynamoDB
call is one `time.sleep(storage_ms)` (default 5 ms, `--storage-ms` / `BENCH_STORAGE_MS`) plus
the in-memory operation. The consumer is the real `SqsJobConsumer` + `SmsSender`, wired as
`courier.sms.wiring.build_consumer` does but with those adapters; the provider is the sandbox with
0 latency; batches of 10 through `process_batch`.

(a) unlimited: one consumer, rate limiter disabled (SMS_RATE_LIMIT_MPS=0).
(b) limited: SMS_RATE_LIMIT_MPS=100, burst 1: the real `RedisRateLimiter` on a private
    redis-server; CONSUMERS consumers run at once in threads, each its own consumer (own Redis
    connection, own thread pool) pacing on the same Redis key, as concurrent Lambda invocations.
(c) limiter only (extra figure): the same CONSUMERS x 10 threads call
    `RedisRateLimiter.acquire(1)` then `provider.send`, with no storage work.
(d) moto (extra figure, no target): (a) with moto's in-process DynamoDB, CPU-bound here.

Rates are measured from the provider's accept timestamps (first to last accepted send), never
including start-up. Single-part GSM messages, so one job is one message is one token.

Prints `bench sms-throughput: ...`; exits 1 when (b) is not within 100 +/- 5%.
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
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
    apply_env,
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
from bench._simulated import (
    SimulatedIO,
    add_storage_args,
    format_ms,
    simulated_consumer,
    storage_fields,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from courier.settings import Settings
    from courier.sms.providers import OutboundSms, ProviderAccepted
    from courier.sms.providers.sandbox import SandboxProvider
    from courier.sms.sqs_consumer import SqsJobConsumer

BATCH = 10
UNLIMITED_JOBS = 500
MOTO_JOBS = 100
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
    sends_receipts = False

    def __init__(self, inner: SandboxProvider, log: AcceptLog) -> None:
        self.inner = inner
        self.log = log

    def send(self, message: OutboundSms) -> ProviderAccepted:
        accepted = self.inner.send(message)
        self.log.stamp()
        return accepted


def make_consumer(
    settings: Settings, log: AcceptLog, io: SimulatedIO | None
) -> tuple[SqsJobConsumer, SandboxProvider]:
    """A consumer with a stamped 0-latency sandbox provider: simulated storage, or moto's."""
    from courier.sms.providers.sandbox import SandboxProvider
    from courier.sms.wiring import build_consumer

    sandbox = SandboxProvider(latency_seconds=0.0)
    provider = StampedProvider(sandbox, log)
    if io is None:
        return build_consumer(settings, provider=provider), sandbox
    return simulated_consumer(settings, provider, io)[0], sandbox


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


@dataclass
class UnlimitedRun:
    rate: float
    seconds: float
    cpu_ms_per_job: float
    calls_per_job: float
    emulator_cpu_ms_per_job: float = 0.0


def run_unlimited(
    consumer: SqsJobConsumer, log: AcceptLog, jobs: int, probe: Callable[[], tuple[int, float]]
) -> UnlimitedRun:
    """One warm-up batch, then `jobs` jobs through one consumer, batch after batch."""
    run_consumers([consumer], sms_jobs(BATCH))
    log.reset()
    calls_before, emulator_before = probe()
    cpu_before = time.process_time()
    run_consumers([consumer], sms_jobs(jobs))
    cpu = time.process_time() - cpu_before
    calls_after, emulator_after = probe()
    if len(log.times) != jobs:
        raise RuntimeError(f"accepted {len(log.times)} of {jobs}")
    return UnlimitedRun(
        rate=log.rate(),
        seconds=log.span(),
        cpu_ms_per_job=cpu * 1000 / jobs,
        calls_per_job=(calls_after - calls_before) / jobs,
        emulator_cpu_ms_per_job=(emulator_after - emulator_before) * 1000 / jobs,
    )


def moto_unlimited(jobs: int) -> UnlimitedRun:
    """Secondary (no target): run (a) with moto DynamoDB instead of the simulated latency."""
    overrides = {"SMS_SANDBOX_LATENCY_MS": "0", "SMS_RATE_LIMIT_MPS": "0"}
    with sms_stack(overrides), EmulatorMeter().installed() as meter:
        from courier.settings import get_settings

        silence_logs()
        log = AcceptLog()
        consumer, _ = make_consumer(get_settings(), log, None)

        def probe() -> tuple[int, float]:
            cpu, calls = meter.read()
            return calls, cpu

        return run_unlimited(consumer, log, jobs, probe)


def main(argv: list[str] | None = None) -> int:
    import redis

    from courier.settings import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_storage_args(parser)
    parser.add_argument("--moto-jobs", type=int, default=MOTO_JOBS, help="0 skips the moto figure")
    args = parser.parse_args(argv)

    with redis_server() as redis_url:
        apply_env(
            {
                "SMS_SANDBOX_LATENCY_MS": "0",
                "SMS_RATE_LIMIT_MPS": str(LIMIT_MPS),
                "SMS_RATE_LIMIT_BURST": "1",
                "REDIS_URL": redis_url,
            }
        )
        silence_logs()
        limited = get_settings()
        unlimited = dataclasses.replace(limited, sms_rate_limit_mps=0.0)
        key = f"{limited.sms_rate_limit_key}:{limited.sms_provider}"
        admin = redis.Redis.from_url(redis_url)

        # (a) one consumer, no limit, simulated storage latency
        io_a = SimulatedIO(args.storage_ms, args.client_cpu_ms)
        log_a = AcceptLog()
        consumer_a, _ = make_consumer(unlimited, log_a, io_a)
        run_a = run_unlimited(consumer_a, log_a, UNLIMITED_JOBS, lambda: (io_a.total(), 0.0))

        # (b) CONSUMERS consumers at once, one shared Redis limiter key
        io_b = SimulatedIO(args.storage_ms, args.client_cpu_ms)
        log_b = AcceptLog()
        consumers_b = [make_consumer(limited, log_b, io_b)[0] for _ in range(CONSUMERS)]
        run_consumers(consumers_b, sms_jobs(BATCH * CONSUMERS))  # warm-up, one batch each
        log_b.reset()
        admin.delete(key)
        calls_before = io_b.total()
        run_consumers(consumers_b, sms_jobs(LIMITED_JOBS))
        calls_per_job_b = (io_b.total() - calls_before) / LIMITED_JOBS
        limited_rate = log_b.rate()
        if len(log_b.times) != LIMITED_JOBS:
            raise RuntimeError(f"(b) accepted {len(log_b.times)} of {LIMITED_JOBS}")

        # (c) the limiter alone, same shape of concurrency
        log_c = AcceptLog()
        admin.delete(key)
        run_limiter_only(limited, log_c, LIMITED_JOBS)
        limiter_rate = log_c.rate()
        admin.close()

    run_d = moto_unlimited(args.moto_jobs) if args.moto_jobs > 0 else None

    deviation = deviation_pct(limited_rate)
    met = abs(deviation) <= TOLERANCE_PCT
    fields: dict[str, object] = {
        "unlimited_jobs_per_s": f"{run_a.rate:.1f}",
        "limited_jobs_per_s": f"{limited_rate:.1f}",
        "limit_mps": LIMIT_MPS,
        "deviation_pct": f"{deviation:+.1f}",
        **storage_fields(io_a),
        "consumers": CONSUMERS,
        "limited_jobs": LIMITED_JOBS,
        "limited_seconds": f"{log_b.span():.1f}",
        "limited_max_1s": log_b.max_in_window(),
        "limiter_only_jobs_per_s": f"{limiter_rate:.1f}",
        "limiter_only_deviation_pct": f"{deviation_pct(limiter_rate):+.1f}",
        "cpu_ms_per_job": f"{run_a.cpu_ms_per_job:.1f}",
    }
    if run_d is not None:
        fields |= {
            "moto_unlimited_jobs_per_s": f"{run_d.rate:.1f}",
            "moto_cpu_ms_per_job": f"{run_d.cpu_ms_per_job:.1f}",
            "moto_emulator_cpu_ms_per_job": f"{run_d.emulator_cpu_ms_per_job:.1f}",
        }
    fields |= {"target_pct": f"+-{TOLERANCE_PCT:g}", "target": "met" if met else "MISSED"}
    summary("sms-throughput", fields)
    detail(
        f"(a) unlimited: {UNLIMITED_JOBS} jobs, 1 consumer x {THREADS_PER_CONSUMER} threads, "
        f"{run_a.seconds:.2f}s first->last accept, {run_a.calls_per_job:g} storage calls/job "
        f"at {format_ms(args.storage_ms)} ms, {run_a.cpu_ms_per_job:.1f} ms CPU/job"
    )
    detail(
        f"(b) limited: {LIMITED_JOBS} jobs, {CONSUMERS} consumers x "
        f"{THREADS_PER_CONSUMER} threads on one Redis key, {log_b.span():.2f}s first->last "
        f"accept, busiest 1s window {log_b.max_in_window()} sends, "
        f"{calls_per_job_b:g} storage calls/job"
    )
    detail(
        f"(c) limiter only: {len(log_c.times)} acquire+send, {CONSUMERS} limiters x "
        f"{THREADS_PER_CONSUMER} threads, {log_c.span():.2f}s, busiest 1s window "
        f"{log_c.max_in_window()} sends"
    )
    if run_d is not None:
        detail(
            f"(d) moto, no target (CPU-bound, see docs/benchmarks.md): (a) on moto DynamoDB, "
            f"{args.moto_jobs} jobs, {run_d.seconds:.2f}s, {run_d.calls_per_job:g} calls/job, "
            f"{run_d.cpu_ms_per_job:.1f} ms CPU/job of which {run_d.emulator_cpu_ms_per_job:.1f} "
            "in moto"
        )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
