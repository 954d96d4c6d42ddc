"""One SQS batch of 10 SMS jobs: a sanity check of our concurrent consumer against a sequential one.

Primary measurement (the target): storage modelled as I/O latency (`bench/_simulated.py`), every
DynamoDB call one `time.sleep(storage_ms)` (default 5 ms, `--storage-ms` / `BENCH_STORAGE_MS`)
followed by the in-memory operation with DynamoDB semantics.

* ours: the real `SqsJobConsumer` + `SmsSender` (wired as `courier.sms.wiring.build_consumer`
  does, with the simulated adapters): parse + validate each record, then on a 10-thread pool per
  record: idempotency INPROGRESS put, number check, segmentation, opt-out lookup, rate limiter
  (disabled: SMS_RATE_LIMIT_MPS=0), `provider.send`, idempotency COMPLETED update, status write.
* baseline: a sequential Powertools handler as in Powertools' batch examples,
  `BatchProcessor(event_type=EventType.SQS)` + `process_partial_response`, whose `record_handler`
  does the same work per record, one record after the other: parse + validate the `SmsJob`,
  a Powertools `idempotent_function` (same config, same kind of store) around number check,
  segmentation, opt-out lookup and `provider.send`, then the same status write.

Both sides: the sandbox provider with 50 ms latency per send, 4 storage calls per record, fresh
job_ids for every batch, the medians of interleaved runs after one warm-up batch each.

The ratio `baseline_ms / ours_ms` is a sanity check, not a measured gain: every wait on both
sides is a sleep (50 ms + 4 x 5 ms per record), which the baseline takes one record after the
other (>= 700 ms) and ours overlaps on 10 threads (>= 70 ms), so it is about 10 by arithmetic
whenever the pool overlaps the waits. It is printed as `sanity_ratio` and fails (< 5) when the
consumer stops overlapping them; `ours_overhead_ms` (ours above its 70 ms floor) is the part that
measures our code.

Secondary figures (no target): the same two handlers on moto's in-process DynamoDB
(`moto_ours_ms`, `moto_baseline_ms`, `moto_speedup`), which answers every call with CPU in this
process under one GIL; see docs/benchmarks.md.

Prints `bench sms-batch: ...`; exits 1 when the primary sanity ratio is below 5.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
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
    median,
    silence_logs,
    sms_jobs,
    sms_stack,
    sqs_event,
    summary,
)
from bench._simulated import (
    SimulatedAdapters,
    SimulatedIO,
    add_storage_args,
    format_ms,
    simulated_consumer,
    storage_fields,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from courier.settings import Settings
    from courier.sms.delivery import OptOuts, StatusRecorder
    from courier.sms.providers import SmsProvider

    Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

RECORDS = 10
LATENCY_MS = 50
RUNS = 7
MOTO_RUNS = 5
TARGET_SANITY_RATIO = 5.0  # about 10 by arithmetic; below 5 the records no longer overlap


def build_baseline(
    settings: Settings,
    provider: SmsProvider,
    *,
    status: StatusRecorder,
    opt_outs: OptOuts,
    idempotency_store: BasePersistenceLayer,
) -> Handler:
    """A handler written as in the Powertools batch examples: one record after the other."""
    from datetime import UTC, datetime

    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.idempotency import (
        IdempotencyConfig,
        idempotent_function,
    )

    from courier.sms import numbers
    from courier.sms.contract import SmsJob
    from courier.sms.delivery import record_result
    from courier.sms.providers import OutboundSms
    from courier.sms.segments import segment

    processor = BatchProcessor(event_type=EventType.SQS)
    config = IdempotencyConfig(  # the sender's own idempotency settings
        event_key_jmespath="job_id",
        payload_validation_jmespath="[to, body]",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.sms_idempotency_ttl_seconds,
    )

    def send(job: dict[str, Any]) -> dict[str, Any]:
        to, body = job["to"], job["body"]
        seg = segment(body)
        base = {"parts": seg.parts, "encoding": seg.encoding}
        if not numbers.is_valid_number(to):
            return {**base, "status": "FAILED", "reason": "INVALID_NUMBER"}
        if opt_outs.is_opted_out(to):
            return {**base, "status": "FAILED", "reason": "OPTED_OUT"}
        accepted = provider.send(
            OutboundSms(
                job_id=job["job_id"],
                to=to,
                body=body,
                message_type="TRANSACTIONAL",
                parts=seg.parts,
                encoding=seg.encoding,
                origination=job.get("origination"),
            )
        )
        return {
            **base,
            "status": "SENT",
            "provider": accepted.provider,
            "provider_message_id": accepted.message_id,
            "at": datetime.now(UTC).isoformat(),
        }

    # As `@idempotent_function(data_keyword_argument="job", ...)` on `send`, in call form.
    send_once = idempotent_function(
        send, data_keyword_argument="job", persistence_store=idempotency_store, config=config
    )

    def record_handler(record: SQSRecord) -> None:
        job = SmsJob.model_validate(record.json_body)
        result = send_once(job=job.model_dump(mode="json"))
        # The sender's own status write; a FAILED result carries no time of its own.
        record_result(status, job, {"at": datetime.now(UTC).isoformat(), **result})

    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        config.register_lambda_context(context)
        return dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )

    return lambda_handler


@dataclass
class Sample:
    wall_ms: float
    cpu_ms: float  # process CPU, all threads
    calls: int  # storage calls (simulated, or answered by moto)
    moto_ms: float = 0.0  # CPU moto spent answering them


def timed_batch(
    handler: Handler,
    accepted: Callable[[], int],
    probe: Callable[[], tuple[int, float]],
) -> Sample:
    """One fresh 10-job batch; raises unless all 10 were sent."""
    event = sqs_event(sms_jobs(RECORDS))
    before = accepted()
    context = lambda_context()
    calls_before, moto_before = probe()
    cpu_before = time.process_time()
    start = time.perf_counter()
    response = handler(event, context)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_before
    calls_after, moto_after = probe()
    drop_metrics()
    if response.get("batchItemFailures") or accepted() - before != RECORDS:
        raise RuntimeError(f"batch did not send all {RECORDS} jobs: {response}")
    return Sample(
        wall * 1000, cpu * 1000, calls_after - calls_before, (moto_after - moto_before) * 1000
    )


def compare(
    ours: Handler,
    ours_probe: Callable[[], tuple[int, float]],
    ours_sent: Callable[[], int],
    baseline: Handler,
    base_probe: Callable[[], tuple[int, float]],
    base_sent: Callable[[], int],
    runs: int,
) -> tuple[list[Sample], list[Sample]]:
    """One warm-up batch each, then `runs` each, interleaved so machine noise hits both."""
    timed_batch(ours, ours_sent, ours_probe)
    timed_batch(baseline, base_sent, base_probe)
    ours_runs: list[Sample] = []
    base_runs: list[Sample] = []
    for _ in range(runs):
        ours_runs.append(timed_batch(ours, ours_sent, ours_probe))
        base_runs.append(timed_batch(baseline, base_sent, base_probe))
    return ours_runs, base_runs


def simulated_runs(
    storage_ms: float, client_cpu_ms: float, runs: int
) -> tuple[list[Sample], list[Sample], int]:
    """Primary: the real consumer and the baseline on the latency-modelled adapters."""
    from courier.settings import get_settings
    from courier.sms.providers.sandbox import SandboxProvider

    apply_env({"SMS_RATE_LIMIT_MPS": "0", "SMS_SANDBOX_LATENCY_MS": str(LATENCY_MS)})
    silence_logs()
    settings = get_settings()
    ours_io = SimulatedIO(storage_ms, client_cpu_ms)
    base_io = SimulatedIO(storage_ms, client_cpu_ms)
    ours_provider = SandboxProvider(latency_seconds=LATENCY_MS / 1000)
    base_provider = SandboxProvider(latency_seconds=LATENCY_MS / 1000)
    consumer, _ = simulated_consumer(settings, ours_provider, ours_io)
    adapters = SimulatedAdapters(base_io, settings)
    baseline = build_baseline(
        settings,
        base_provider,
        status=adapters.status,
        opt_outs=adapters.opt_outs,
        idempotency_store=adapters.idempotency,
    )
    ours_runs, base_runs = compare(
        consumer.process_batch,
        lambda: (ours_io.total(), 0.0),
        lambda: len(ours_provider.sent),
        baseline,
        lambda: (base_io.total(), 0.0),
        lambda: len(base_provider.sent),
        runs,
    )
    if {r.calls for r in ours_runs} != {r.calls for r in base_runs}:
        raise RuntimeError("ours and the baseline made different numbers of storage calls")
    return ours_runs, base_runs, settings.sms_send_concurrency


BASELINE_IDEMPOTENCY_TABLE = "BaselineIdempotency"


def moto_runs(runs: int) -> tuple[list[Sample], list[Sample]]:
    """Secondary: both handlers on moto DynamoDB (CPU in this process, under the GIL)."""
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    from courier.sms.opt_out import OptOutList
    from courier.sms.providers.sandbox import SandboxProvider
    from courier.sms.status_store import SmsStatusStore
    from courier.sms.wiring import build_consumer

    overrides = {"SMS_RATE_LIMIT_MPS": "0", "SMS_SANDBOX_LATENCY_MS": str(LATENCY_MS)}
    with sms_stack(overrides), EmulatorMeter().installed() as meter:
        from courier.settings import get_settings

        silence_logs()
        settings = get_settings()
        # The baseline keeps Powertools' records in a table of their own, as its guide shows.
        boto3.client("dynamodb").create_table(
            TableName=BASELINE_IDEMPOTENCY_TABLE,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ours_provider = SandboxProvider(latency_seconds=LATENCY_MS / 1000)
        base_provider = SandboxProvider(latency_seconds=LATENCY_MS / 1000)
        consumer = build_consumer(settings, provider=ours_provider)
        baseline = build_baseline(
            settings,
            base_provider,
            status=SmsStatusStore.from_settings(settings),
            opt_outs=OptOutList.from_settings(settings),
            idempotency_store=DynamoDBPersistenceLayer(
                table_name=BASELINE_IDEMPOTENCY_TABLE, boto3_client=boto3.client("dynamodb")
            ),
        )

        def probe() -> tuple[int, float]:
            cpu, calls = meter.read()
            return calls, cpu

        return compare(
            consumer.process_batch,
            probe,
            lambda: len(ours_provider.sent),
            baseline,
            probe,
            lambda: len(base_provider.sent),
            runs,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_storage_args(parser)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--moto-runs", type=int, default=MOTO_RUNS, help="0 skips the moto figures")
    args = parser.parse_args(argv)

    ours_runs, base_runs, concurrency = simulated_runs(
        args.storage_ms, args.client_cpu_ms, args.runs
    )
    moto_ours, moto_base = moto_runs(args.moto_runs) if args.moto_runs > 0 else ([], [])

    ours_ms = median([r.wall_ms for r in ours_runs])
    base_ms = median([r.wall_ms for r in base_runs])
    ratio = base_ms / ours_ms
    met = ratio >= TARGET_SANITY_RATIO
    # The waits every record sleeps through: the floor of a fully concurrent batch.
    per_record_ms = LATENCY_MS + ours_runs[0].calls / RECORDS * args.storage_ms
    fields: dict[str, object] = {
        "ours_ms": f"{ours_ms:.1f}",
        "baseline_ms": f"{base_ms:.1f}",
        "sanity_ratio": f"{ratio:.2f}",
        "ours_overhead_ms": f"{ours_ms - per_record_ms:.1f}",
        "records": RECORDS,
        "latency_ms": LATENCY_MS,
        **storage_fields(SimulatedIO(args.storage_ms, args.client_cpu_ms)),
        "storage_calls": ours_runs[0].calls,
        "runs": args.runs,
        "concurrency": concurrency,
        "ours_cpu_ms": f"{median([r.cpu_ms for r in ours_runs]):.1f}",
        "baseline_cpu_ms": f"{median([r.cpu_ms for r in base_runs]):.1f}",
    }
    if moto_ours:
        moto_ours_ms = median([r.wall_ms for r in moto_ours])
        moto_base_ms = median([r.wall_ms for r in moto_base])
        fields |= {
            "moto_ours_ms": f"{moto_ours_ms:.1f}",
            "moto_baseline_ms": f"{moto_base_ms:.1f}",
            "moto_speedup": f"{moto_base_ms / moto_ours_ms:.2f}",
            "moto_ours_cpu_ms": f"{median([r.cpu_ms for r in moto_ours]):.1f}",
            "moto_ours_moto_cpu_ms": f"{median([r.moto_ms for r in moto_ours]):.1f}",
        }
    fields |= {
        "target_sanity_ratio": f">={TARGET_SANITY_RATIO:g}",
        "target": "met" if met else "MISSED",
    }
    summary("sms-batch", fields)

    detail(
        f"sanity_ratio is a sanity check, fixed by arithmetic: both sides sleep {per_record_ms:g} "
        f"ms per record, the baseline one record after another and ours on {concurrency} "
        f"threads, so it is about {RECORDS / math.ceil(RECORDS / concurrency):g} whenever the "
        f"records overlap; below {TARGET_SANITY_RATIO:g} they no longer do. ours_overhead_ms "
        "(ours above its floor) is what our code adds."
    )
    detail(
        f"simulated storage: {ours_runs[0].calls} calls per batch on each side "
        f"({ours_runs[0].calls // RECORDS} per record) at {format_ms(args.storage_ms)} ms; "
        f"waits per record {per_record_ms:g} ms, so sequential >= {per_record_ms * RECORDS:g} ms "
        f"and fully concurrent >= {per_record_ms:g} ms"
    )
    for label, runs in (("ours", ours_runs), ("baseline", base_runs)):
        detail(f"{label} wall_ms per run: " + ", ".join(f"{r.wall_ms:.1f}" for r in runs))
        detail(f"{label} cpu_ms per run: " + ", ".join(f"{r.cpu_ms:.1f}" for r in runs))
    for label, runs in (("moto ours", moto_ours), ("moto baseline", moto_base)):
        if runs:
            detail(
                f"{label} (no target; CPU-bound, see docs/benchmarks.md): {runs[0].calls} calls "
                "per batch; wall_ms per run: "
                + ", ".join(f"{r.wall_ms:.1f}" for r in runs)
                + "; moto cpu_ms per run: "
                + ", ".join(f"{r.moto_ms:.1f}" for r in runs)
            )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
