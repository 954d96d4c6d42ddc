"""Storage modelled as what it is on AWS, I/O latency: in-memory adapters that sleep per call.

On AWS every DynamoDB and SQS call the sender makes is a network round trip: the calling thread
waits (without holding the GIL) while the service works, so the calls of concurrent records
overlap. moto answers the same calls with CPU inside the benchmark's own process, under one GIL,
which turns those waits into serialized CPU work. These adapters keep the semantics the sender
relies on (conditional writes, idempotency records) and replace each service call with one
`time.sleep(latency)` followed by the in-memory operation, so the waits overlap as they would
on AWS.

* `SlowIdempotencyStore`: `local.in_memory_adapters.InMemoryIdempotencyStore` (a Powertools
  `BasePersistenceLayer` with the DynamoDB layer's semantics); each of get/put/update/delete is
  one call.
* `SimulatedStatusStore`: the calls `SmsStatusStore.record` makes, in a dict: a job's first write
  is one conditional put; when the item already exists, the ranked update (one more call) and, if
  that loses, the facts-only update (one more). Day keys come from the real `SmsStatusStore`.
* `SlowOptOuts`: `local.in_memory_adapters.SetOptOuts`; each lookup is one call (`GetItem`).
* `SimulatedQueues`: `SqsQueues`' dead_letter / back_off / requeue, one call each (not on the
  benchmarks' happy path; there so a failing record costs what it would).

`SimulatedIO` holds the latency and counts the calls by kind, so a benchmark can show how many
storage calls each side made. Optionally (`--client-cpu-ms` / `BENCH_CLIENT_CPU_MS`, default 0)
each call also burns that much CPU while holding the GIL before its wait, standing for the client
side of a real call (botocore serializing, signing and parsing: ~0.3-0.6 ms per call here), which
these adapters otherwise skip.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from bench._common import setup_paths

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    from courier.settings import Settings
    from courier.sms.delivery import SmsSender
    from courier.sms.providers import SmsProvider
    from courier.sms.sqs_consumer import SqsJobConsumer
    from courier.sms.status import StatusChange

setup_paths()
from local.in_memory_adapters import InMemoryIdempotencyStore, SetOptOuts  # noqa: E402

DEFAULT_STORAGE_MS = 5.0  # a typical same-region DynamoDB p50
STORAGE_MS_ENV = "BENCH_STORAGE_MS"
CLIENT_CPU_MS_ENV = "BENCH_CLIENT_CPU_MS"


def _env_ms(name: str, default: float) -> float:
    value = float(os.environ.get(name, default))
    if value < 0:
        raise ValueError(f"{name} must not be negative")
    return value


def add_storage_args(parser: argparse.ArgumentParser) -> None:
    """`--storage-ms` and `--client-cpu-ms`, defaulting to their environment variables."""
    parser.add_argument(
        "--storage-ms",
        type=float,
        default=_env_ms(STORAGE_MS_ENV, DEFAULT_STORAGE_MS),
        help=f"simulated latency per DynamoDB call (default: ${STORAGE_MS_ENV} or 5)",
    )
    parser.add_argument(
        "--client-cpu-ms",
        type=float,
        default=_env_ms(CLIENT_CPU_MS_ENV, 0.0),
        help=f"CPU burnt per simulated call, client side (default: ${CLIENT_CPU_MS_ENV} or 0)",
    )


def format_ms(value: float) -> str:
    return f"{value:g}"


def storage_fields(io: SimulatedIO) -> dict[str, object]:
    """The summary-line keys describing the simulated storage."""
    fields: dict[str, object] = {"storage_ms": format_ms(io.storage_ms)}
    if io.client_cpu_ms:
        fields["client_cpu_ms"] = format_ms(io.client_cpu_ms)
    return fields


class SimulatedIO:
    """One simulated network round trip per call: (burn client CPU,) sleep, count the call."""

    def __init__(self, storage_ms: float, client_cpu_ms: float = 0.0) -> None:
        self.storage_ms = storage_ms
        self.client_cpu_ms = client_cpu_ms
        self._seconds = storage_ms / 1000
        self._cpu_seconds = client_cpu_ms / 1000
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()

    def call(self, kind: str) -> None:
        with self._lock:
            self._calls[kind] += 1
        if self._cpu_seconds:
            deadline = time.thread_time() + self._cpu_seconds
            while time.thread_time() < deadline:  # this thread's own CPU, GIL held
                pass
        if self._seconds:
            time.sleep(self._seconds)  # releases the GIL, as a socket read does

    def calls(self) -> Counter[str]:
        with self._lock:
            return Counter(self._calls)

    def total(self) -> int:
        with self._lock:
            return sum(self._calls.values())


class SlowIdempotencyStore(InMemoryIdempotencyStore):
    """Powertools idempotency persistence with DynamoDB semantics and a latency per call."""

    def __init__(self, io: SimulatedIO) -> None:
        super().__init__()
        self._io = io

    def _get_record(self, idempotency_key: str) -> DataRecord:
        self._io.call("idempotency.get")
        return super()._get_record(idempotency_key)

    def _put_record(self, data_record: DataRecord) -> None:
        self._io.call("idempotency.put")
        super()._put_record(data_record)

    def _update_record(self, data_record: DataRecord) -> None:
        self._io.call("idempotency.update")
        super()._update_record(data_record)

    def _delete_record(self, data_record: DataRecord) -> None:
        self._io.call("idempotency.delete")
        super()._delete_record(data_record)


class SlowOptOuts(SetOptOuts):
    """The opt-out list (a `GetItem` per lookup on AWS) with a latency per lookup."""

    def __init__(self, io: SimulatedIO, *numbers: str) -> None:
        super().__init__(*numbers)
        self._io = io

    def is_opted_out(self, phone_number: str) -> bool:
        self._io.call("opt_out.get")
        return bool(super().is_opted_out(phone_number))


class SimulatedStatusStore:
    """`SmsStatusStore.record`'s DynamoDB calls and outcome, on a dict, with a latency per call."""

    def __init__(self, io: SimulatedIO, settings: Settings) -> None:
        from courier.sms.status_store import SmsStatusStore

        self._io = io
        # Only for its pure helpers (day keys); it never touches its table here.
        self._keys = SmsStatusStore(
            cast("Any", None),
            timezone=settings.service_timezone,
            ttl_days=settings.sms_status_ttl_days,
        )
        self._ttl = timedelta(days=settings.sms_status_ttl_days)
        self._lock = threading.Lock()
        self.items: dict[str, dict[str, object]] = {}

    def day_keys(self, job_id: str, at: datetime) -> dict[str, str]:
        return self._keys.day_keys(job_id, at)

    def record(
        self,
        change: StatusChange,
        *,
        describe: dict[str, object] | None = None,
        always: dict[str, object] | None = None,
    ) -> bool:
        from courier.sms.status import STATUS_RANK

        rank = STATUS_RANK[change.status]
        assignments = {
            k: v
            for k, v in {
                "status": change.status.value,
                "status_rank": rank,
                "status_at": change.at.isoformat(timespec="milliseconds"),
                "job_id": change.job_id,
                "expires_at": int((change.at + self._ttl).timestamp()),
                "reason": change.reason,
                "provider": change.provider,
                "provider_message_id": change.provider_message_id,
                **change.details,
            }.items()
            if v is not None
        }
        facts = {k: v for k, v in (describe or {}).items() if v is not None}
        key = f"JOB#{change.job_id}"
        self._io.call("status.update")  # the ranked UpdateItem (creates a missing record)
        with self._lock:
            item = self.items.get(key)
            if item is None:
                self.items[key] = {**facts, **assignments}
                return True
            stored_rank = cast("int", item["status_rank"])
            stored_at = cast("str", item["status_at"])
            at = cast("str", assignments["status_at"])
            if stored_rank < rank or (stored_rank == rank and stored_at < at):
                item.update(assignments)
                for name, value in facts.items():
                    item.setdefault(name, value)
                return True
        if facts:
            self._io.call("status.update_facts")  # the facts-only UpdateItem after a lost race
            with self._lock:
                for name, value in facts.items():
                    self.items[key].setdefault(name, value)
        return False


class SimulatedQueues:
    """`SqsQueues` with one simulated call per operation; keeps what it was asked to do."""

    def __init__(self, io: SimulatedIO) -> None:
        self._io = io
        self._lock = threading.Lock()
        self.dead_lettered: list[dict[str, str]] = []
        self.backed_off: list[tuple[str, int]] = []
        self.requeued: list[tuple[str, float]] = []

    def dead_letter(
        self, *, body: str, code: str, reason: str, source_arn: str, source_message_id: str
    ) -> None:
        self._io.call("sqs.send_message")
        with self._lock:
            self.dead_lettered.append({"body": body, "code": code, "reason": reason})

    def back_off(self, *, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        self._io.call("sqs.change_message_visibility")
        with self._lock:
            self.backed_off.append((receipt_handle, seconds))

    def requeue(
        self, *, queue_arn: str, body: str, delay_seconds: float, deferrals: int = 0
    ) -> None:
        self._io.call("sqs.send_message")
        with self._lock:
            self.requeued.append((body, delay_seconds))


class SimulatedAdapters:
    """One consumer's storage adapters, all on the same `SimulatedIO`."""

    def __init__(self, io: SimulatedIO, settings: Settings) -> None:
        self.io = io
        self.idempotency = SlowIdempotencyStore(io)
        self.status = SimulatedStatusStore(io, settings)
        self.opt_outs = SlowOptOuts(io)
        self.queues = SimulatedQueues(io)


def simulated_sender(
    settings: Settings, provider: SmsProvider, adapters: SimulatedAdapters
) -> SmsSender:
    """`courier.sms.wiring.build_sender` with the simulated adapters (the real rate limiter)."""
    from courier.sms.delivery import SmsSender
    from courier.sms.wiring import build_rate_limiter

    return SmsSender(
        provider=provider,
        status=adapters.status,
        opt_outs=adapters.opt_outs,
        rate_limiter=build_rate_limiter(settings),
        idempotency_store=adapters.idempotency,
        max_parts=settings.sms_max_parts,
        schedule_horizon=timedelta(days=settings.sms_schedule_horizon_days),
        idempotency_ttl_seconds=settings.sms_idempotency_ttl_seconds,
    )


def simulated_consumer(
    settings: Settings, provider: SmsProvider, io: SimulatedIO
) -> tuple[SqsJobConsumer, SimulatedAdapters]:
    """`courier.sms.wiring.build_consumer` with the simulated adapters."""
    from courier.sms.queues import SqsQueues
    from courier.sms.sqs_consumer import SqsJobConsumer

    adapters = SimulatedAdapters(io, settings)
    consumer = SqsJobConsumer(
        simulated_sender(settings, provider, adapters),
        cast("SqsQueues", adapters.queues),
        concurrency=settings.sms_send_concurrency,
        retry_base_seconds=settings.sms_retry_base_seconds,
        retry_max_seconds=settings.sms_retry_max_seconds,
    )
    return consumer, adapters
