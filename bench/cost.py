"""What one SMS job costs the platform, and what each samconfig environment costs idle.

Jobs: N jobs go through the real sender handler (`functions/sms/sender.py`) and then one
delivery receipt each through the real status handler (`functions/sms/receipts.py`), in-process
against moto (the benchmarks' SMS stack). Every AWS call the handlers make is counted through
botocore's `before-call`/`after-call` events; DynamoDB request units are computed from the
items before and after each write (bench/cost_model.py), since moto does not report consumed
capacity per index. Log bytes are what the Powertools logger and the metrics flush print, plus
Lambda's START/END/REPORT lines. What the handlers do not call themselves is modelled and
labelled so: the producer's SendMessageBatch, the event source mapping's receive and delete per
batch, End User Messaging's SNS publish per receipt, X-Ray (one trace per invocation), and the
Lambda duration (client CPU measured here without moto's share, plus 5 ms per AWS call at the
consumer's concurrency). Two runs: full batches of 10, and a trickle of 1 job per batch.

The stats: every INSERT/MODIFY record the two handlers left on the SmsMessages stream goes
through the real SMS stats counter (`functions/stats/counter.py`) in stream batches: the
mapping's BatchSize with full batches; with the trickle, the records of one batching window at
`TRICKLE_JOBS_PER_SECOND` (modelled). Lambda's stream reads are free; the counter's own calls
(the batch's days read, partials put) are counted like the handlers'.

Idle: the template's resources under each environment's parameter_overrides, priced from
bench/prices_ap_northeast_2.toml. The SMS provider's own per-message price is not included.

Prints `bench cost: ...`; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    EmulatorMeter,
    detail,
    lambda_context,
    sms_jobs,
    sms_stack,
    sqs_event,
    summary,
)
from bench.cost_model import (
    Conditions,
    TableShape,
    idle_items,
    item_size,
    load_prices,
    load_template,
    read_units,
    samconfig_parameters,
    shape_from_description,
    write_cost,
)

JOBS = 1000
FULL_BATCH = 10
CALL_LATENCY_MS = 5.0
SQS_CHUNK = 64 * 1024
TARGET_USD_PER_MILLION = 5.0
TARGET_USD_PER_MILLION_TRICKLE = 8.0
TARGET_DEV_IDLE_USD_MONTH = 25.0
# Lambda's own lines per invocation (INFO platform events); written only for a function whose
# LoggingConfig keeps them (no SystemLogLevel above INFO); the XRAY line only when it traces.
PLATFORM_LINES = (
    "START RequestId: 8f5c6b1e-1d2a-4c3b-9e8f-0a1b2c3d4e5f Version: $LATEST\n"
    "END RequestId: 8f5c6b1e-1d2a-4c3b-9e8f-0a1b2c3d4e5f\n"
    "REPORT RequestId: 8f5c6b1e-1d2a-4c3b-9e8f-0a1b2c3d4e5f\tDuration: 123.45 ms\t"
    "Billed Duration: 124 ms\tMemory Size: 512 MB\tMax Memory Used: 123 MB\t\n"
)
XRAY_LINE = (
    "XRAY TraceId: 1-5e1b4151-5ac6c58f5b5b5f5b5b5b5b5b\tSegmentId: 6b5b5b5b5b5b5b5b\t"
    "Sampled: true\n"
)
# The trickle's modelled arrival rate, for the stream counter's batches: at 1 job a second a
# 30 s batching window holds ~30 jobs' records (with full batches, the mapping's BatchSize).
TRICKLE_JOBS_PER_SECOND = 1.0
# The environment whose parameters price the per-job figures (the one that sends the volume).
PRICED_ENVIRONMENT = "prod"
# The empty long polls (20 s) an SQS event source mapping keeps open while idle: five pollers.
ESM_POLLS_PER_MONTH = 5 * 3 * 60 * 24 * 30.4
# Scheduled work that runs with no traffic: (function, invocations a month, GB-s each).
SCHEDULED = (("ChatSweepFunction", 6 * 24 * 30.4, 0.5 * 0.3), ("StatsBatch", 30.4 * 20, 0.5 * 0.5))


@dataclass
class Tally:
    """What the handlers called: counts per API, DynamoDB units per table and index."""

    calls: Counter[str] = field(default_factory=Counter)
    wru: Counter[str] = field(default_factory=Counter)
    rru: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    sqs_requests: int = 0
    sns_publishes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class CallCounter:
    """botocore hooks on the default session: every client built afterwards reports here."""

    def __init__(self, tally: Tally) -> None:
        import boto3

        self.tally = tally
        self.shapes: dict[str, TableShape] = {}
        # A client of its own session, unhooked, to read items before and after each write.
        self.reader = boto3.session.Session().client("dynamodb", region_name="ap-northeast-2")
        session = boto3._get_default_session()
        session.events.register("before-call.*.*", self.before)
        session.events.register("after-call.*.*", self.after)

    def shape(self, table: str) -> TableShape:
        if table not in self.shapes:
            self.shapes[table] = shape_from_description(
                self.reader.describe_table(TableName=table)["Table"]
            )
        return self.shapes[table]

    def _get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.reader.get_item(
            TableName=table, Key=key, ConsistentRead=True
        ).get("Item")
        return item

    def _key(self, table: str, params: dict[str, Any]) -> dict[str, Any]:
        if "Key" in params:
            return dict(params["Key"])
        return {name: params["Item"][name] for name in self.shape(table).keys}

    def before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if model.service_model.service_name != "dynamodb":
            return
        # `params` is the serialized request here; DynamoDB's JSON body is the typed request.
        request = json.loads(params["body"] or b"{}")
        context["cost_request"] = request
        if model.name in ("PutItem", "UpdateItem", "DeleteItem"):
            table = request["TableName"]
            context["cost_before"] = self._get(table, self._key(table, request))

    def after(
        self,
        http_response: Any,
        parsed: dict[str, Any],
        model: Any,
        context: dict[str, Any],
        **_: Any,
    ) -> None:
        service = model.service_model.service_name
        with self.tally.lock:
            self.tally.calls[f"{service}.{model.name}"] += 1
        if service == "sqs":
            with self.tally.lock:
                self.tally.sqs_requests += 1
        elif service == "sns":
            with self.tally.lock:
                self.tally.sns_publishes += 1
        if service != "dynamodb":
            return
        self._dynamodb(model.name, parsed, context)

    def _dynamodb(self, operation: str, parsed: dict[str, Any], context: dict[str, Any]) -> None:
        request = context["cost_request"]
        table = request["TableName"]
        failed = parsed.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            before = context.get("cost_before")
            after = (
                None if operation == "DeleteItem" else self._get(table, self._key(table, request))
            )
            cost = write_cost(
                before,
                before if failed else after,
                self.shape(table),
                condition_failed=failed,
                requested=request.get("Item"),
            )
            label = f"{table}.{operation}" + (".condition_failed" if failed else "")
            with self.tally.lock:
                self.tally.wru[label] += cost.table
                for index, units in cost.indexes.items():
                    self.tally.wru[f"{table}/{index}"] += units
        elif operation == "GetItem":
            got = read_units(
                item_size(parsed.get("Item")), consistent=bool(request.get("ConsistentRead"))
            )
            with self.tally.lock:
                self.tally.rru[f"{table}.GetItem"] += got
        elif operation in ("Query", "Scan"):
            size = sum(item_size(item) for item in parsed.get("Items", []))
            read = read_units(size, consistent=bool(request.get("ConsistentRead")))
            where = f"{table}/{request['IndexName']}" if "IndexName" in request else table
            with self.tally.lock:
                self.tally.rru[f"{where}.{operation}"] += read


class CountingStream(io.TextIOBase):
    """Counts the bytes written (UTF-8) and keeps nothing."""

    def __init__(self) -> None:
        self.bytes = 0
        self.lock = threading.Lock()

    def write(self, s: str, /) -> int:
        with self.lock:
            self.bytes += len(s.encode())
        return len(s)


@dataclass
class RunResult:
    jobs: int
    batch: int
    tally: Tally
    log_bytes: int
    invocations: dict[str, int]
    modelled_ms: dict[str, float]
    memory_mb: dict[str, int]
    traced: bool


def _receipt_body(job_id: str, provider_message_id: str) -> str:
    return json.dumps(
        {
            "eventType": "TEXT_DELIVERED",
            "eventVersion": "1.0",
            "eventTimestamp": int(time.time() * 1000) + 60_000,
            "isFinal": True,
            "isoCountryCode": "KR",
            "carrierName": "SK Telecom",
            "messageId": provider_message_id,
            "messageEncoding": "GSM",
            "messageType": "TRANSACTIONAL",
            "messageStatus": "DELIVERED",
            "messageStatusDescription": "Message has been accepted by phone",
            "context": {"job_id": job_id},
            "totalMessageParts": 1,
            "totalMessagePrice": 0.0185,
        }
    )


def _sqs_requests(bodies: list[str]) -> int:
    return max(1, math.ceil(sum(len(b.encode()) for b in bodies) / SQS_CHUNK))


@dataclass(frozen=True)
class StreamMapping:
    """The stats counter's stream mapping as the template sets it."""

    batch_size: int
    window_seconds: int

    @classmethod
    def of(cls, template: dict[str, Any]) -> StreamMapping:
        props = template["Resources"]["SmsStatsCounterStream"]["Properties"]
        return cls(int(props["BatchSize"]), int(props["MaximumBatchingWindowInSeconds"]))

    def batch(self, records_per_job: float, *, trickle: bool) -> int:
        """Records per invocation: full, or one window's worth at the trickle's rate."""
        if not trickle:
            return self.batch_size
        window = records_per_job * TRICKLE_JOBS_PER_SECOND * self.window_seconds
        return max(1, min(self.batch_size, math.ceil(window)))


def _stream_records(reader: Any, table: str) -> list[dict[str, Any]]:
    """Every INSERT/MODIFY record of `table`'s stream, as the mapping hands them over (read
    through an unhooked client: Lambda's stream reads are free)."""
    import boto3
    from botocore.config import Config

    streams = boto3.session.Session().client(
        "dynamodbstreams",
        region_name="ap-northeast-2",
        config=Config(account_id_endpoint_mode="disabled"),  # moto: the regional endpoint only
    )
    arn = reader.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator: str | None = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records += [
                {**record, "eventSourceARN": arn}
                for record in page["Records"]
                if record["eventName"] in ("INSERT", "MODIFY")
            ]
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return records


def run_jobs(
    jobs: int,
    batch: int,
    memory: dict[str, int],
    *,
    traced: bool,
    platform_logged: frozenset[str] = frozenset(),
    stream: StreamMapping | None = None,
) -> RunResult:
    """`jobs` jobs through the sender in batches of `batch`, then one receipt each, then the
    stream records they left through the stats counter."""
    overrides = {"SMS_SANDBOX_LATENCY_MS": "0", "SMS_RATE_LIMIT_MPS": "0"}
    tally = Tally()
    logs = CountingStream()
    invocations: Counter[str] = Counter()
    client_cpu: defaultdict[str, float] = defaultdict(float)
    with sms_stack(overrides) as stack, EmulatorMeter().installed() as meter:
        import receipts
        import sender

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functions" / "stats"))
        import counter as stats_counter
        from courier.dynamodb_tables import _client, _resource
        from courier.observability import logger
        from courier.sms.receipt_consumer import receipt_consumer
        from courier.sms.wiring import sms_consumer
        from courier.stats.wiring import sms_stats_counter

        sms_consumer.cache_clear()
        receipt_consumer.cache_clear()
        sms_stats_counter.cache_clear()
        _resource.cache_clear()
        _client.cache_clear()  # the SMS stores' shared client: built anew for this run's stack
        counter = CallCounter(tally)
        for handler in logger.handlers:
            if hasattr(handler, "setStream"):
                handler.setStream(logs)

        def invoke(
            function: str, handler: Any, event: dict[str, Any], *, sequential: bool = False
        ) -> dict[str, Any]:
            calls_before = sum(tally.calls.values())
            moto_before, _ = meter.read()
            cpu_before = time.process_time()
            with contextlib.redirect_stdout(logs):  # the metrics flush (EMF) prints here
                response: dict[str, Any] = handler(event, lambda_context())
            cpu = time.process_time() - cpu_before - (meter.read()[0] - moto_before)
            calls = sum(tally.calls.values()) - calls_before
            records = len(event["Records"])
            concurrency = 1 if sequential else min(records, 10)
            client_cpu[function] += cpu * 1000 + math.ceil(calls / concurrency) * CALL_LATENCY_MS
            invocations[function] += 1
            platform = PLATFORM_LINES if function in platform_logged else ""
            logs.write(platform + (XRAY_LINE if traced else ""))
            if response.get("batchItemFailures"):
                raise RuntimeError(f"{function}: records failed: {response['batchItemFailures']}")
            return response

        all_jobs = sms_jobs(jobs, tag=uuid.uuid4().hex[:10])
        for start in range(0, jobs, batch):
            chunk = all_jobs[start : start + batch]
            event = sqs_event(chunk)
            # Modelled: the producer's SendMessageBatch, the mapping's receive and delete.
            tally.sqs_requests += _sqs_requests([r["body"] for r in event["Records"]]) + 2
            invoke("SmsTransactionalSenderFunction", sender.handler, event)

        sent = stack.status_items()
        bodies = [
            _receipt_body(job["job_id"], str(sent[job["job_id"]]["provider_message_id"]))
            for job in all_jobs
        ]
        for start in range(0, jobs, batch):
            batch_bodies = bodies[start : start + batch]
            event = sqs_event([{} for _ in batch_bodies])
            for record, body in zip(event["Records"], batch_bodies, strict=True):
                record["body"] = body
                record["eventSourceARN"] = stack.arn("courier-sms-events")
            # Modelled: EUM's SNS publish per receipt (SNS to SQS is free), the mapping's calls.
            tally.sns_publishes += len(batch_bodies)
            tally.sqs_requests += len(batch_bodies) + 2
            invoke("SmsStatusFunction", receipts.handler, event)
        if stream is not None:
            records = _stream_records(counter.reader, "SmsMessages")
            size = stream.batch(len(records) / jobs, trickle=batch == 1)
            for start in range(0, len(records), size):
                event = {"Records": records[start : start + size]}
                invoke("SmsStatsCounterFunction", stats_counter.handler, event, sequential=True)
        del counter
    return RunResult(
        jobs=jobs,
        batch=batch,
        tally=tally,
        log_bytes=logs.bytes,
        invocations=dict(invocations),
        modelled_ms=dict(client_cpu),
        memory_mb=memory,
        traced=traced,
    )


@dataclass
class JobCost:
    items: dict[str, float]

    @property
    def usd_per_million(self) -> float:
        return sum(self.items.values())


def price_run(run: RunResult, prices: dict[str, Any]) -> JobCost:
    """USD per million jobs, item by item."""
    per_million = 1e6 / run.jobs
    t = run.tally
    wru = sum(t.wru.values())
    rru = sum(t.rru.values())
    gb_s = sum(
        math.ceil(run.modelled_ms[f] / max(run.invocations[f], 1))
        * run.invocations[f]
        / 1000
        * run.memory_mb[f]
        / 1024
        for f in run.invocations
    )
    invocations = sum(run.invocations.values())
    items = {
        "dynamodb_writes": wru * per_million / 1e6 * prices["dynamodb_wru_million"].usd,
        "dynamodb_reads": rru * per_million / 1e6 * prices["dynamodb_rru_million"].usd,
        "sqs": t.sqs_requests * per_million / 1e6 * prices["sqs_request_million"].usd,
        "sns": t.sns_publishes * per_million / 1e6 * prices["sns_publish_million"].usd,
        "logs": run.log_bytes * per_million / 1e9 * prices["cloudwatch_logs_ingest_gb"].usd,
        # Active: one trace per invocation (at these rates every request falls in Lambda's
        # 1-a-second reservoir); PassThrough: none, the producer does not trace its sends.
        "xray": (invocations if run.traced else 0)
        * per_million
        / 1e6
        * prices["xray_trace_million"].usd,
        "lambda_gb_s": gb_s * per_million * prices["lambda_arm_gb_second"].usd,
        "lambda_requests": invocations * per_million / 1e6 * prices["lambda_request_million"].usd,
    }
    return JobCost(items)


def function_memory(template: dict[str, Any]) -> dict[str, int]:
    default = int(template["Globals"]["Function"]["MemorySize"])
    return {
        name: int(resource["Properties"].get("MemorySize", default))
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def idle_cost(
    template: dict[str, Any], environment: str, prices: dict[str, Any]
) -> tuple[float, list[str]]:
    items = idle_items(
        template,
        samconfig_parameters(environment),
        scheduled=SCHEDULED,
        esm_polls_per_month=ESM_POLLS_PER_MONTH,
    )
    lines = sorted(
        ((item.usd(prices), item) for item in items), key=lambda pair: pair[0], reverse=True
    )
    total = sum(usd for usd, _ in lines)
    return total, [
        f"{environment} idle {item.name}: {item.quantity:g} x ${prices[item.price_key].usd:g} "
        f"({prices[item.price_key].unit}) = ${usd:.2f}/month [{item.detail}]"
        for usd, item in lines
    ]


def sms_tracing(template: dict[str, Any], environment: str) -> str:
    """The SMS functions' X-Ray mode (the SmsTracing parameter) under an environment."""
    return Conditions(template, samconfig_parameters(environment)).parameter("SmsTracing")


def platform_logged(template: dict[str, Any]) -> frozenset[str]:
    """Functions whose LoggingConfig keeps Lambda's INFO platform lines (START/END/REPORT)."""
    kept = set()
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        level = resource["Properties"].get("LoggingConfig", {}).get("SystemLogLevel", "INFO")
        if level in ("DEBUG", "INFO"):
            kept.add(name)
    return frozenset(kept)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=JOBS)
    args = parser.parse_args(argv)

    template = load_template()
    prices = load_prices()
    memory = function_memory(template)
    tracing = sms_tracing(template, PRICED_ENVIRONMENT)
    traced = tracing == "Active"
    platform = platform_logged(template)
    mapping = StreamMapping.of(template)
    full = run_jobs(
        args.jobs, FULL_BATCH, memory, traced=traced, platform_logged=platform, stream=mapping
    )
    trickle = run_jobs(
        args.jobs, 1, memory, traced=traced, platform_logged=platform, stream=mapping
    )
    full_cost, trickle_cost = price_run(full, prices), price_run(trickle, prices)
    dev_idle, dev_lines = idle_cost(template, "dev", prices)
    prod_idle, prod_lines = idle_cost(template, "prod", prices)

    met = (
        full_cost.usd_per_million <= TARGET_USD_PER_MILLION
        and trickle_cost.usd_per_million <= TARGET_USD_PER_MILLION_TRICKLE
        and dev_idle <= TARGET_DEV_IDLE_USD_MONTH
    )
    jobs = full.jobs
    summary(
        "cost",
        {
            "wru_per_job": f"{sum(full.tally.wru.values()) / jobs:.2f}",
            "rru_per_job": f"{sum(full.tally.rru.values()) / jobs:.2f}",
            "sqs_per_job": f"{full.tally.sqs_requests / jobs:.2f}",
            "log_bytes_per_job": f"{full.log_bytes / jobs:.0f}",
            "usd_per_million_jobs": f"{full_cost.usd_per_million:.2f}",
            "usd_per_million_jobs_trickle": f"{trickle_cost.usd_per_million:.2f}",
            "dev_idle_usd_month": f"{dev_idle:.2f}",
            "prod_idle_usd_month": f"{prod_idle:.2f}",
            "sms_tracing": tracing,
            "target": "met" if met else "MISSED",
        },
    )
    detail(
        f"targets: <= ${TARGET_USD_PER_MILLION:g}/M jobs full, <= "
        f"${TARGET_USD_PER_MILLION_TRICKLE:g}/M trickling, dev idle <= "
        f"${TARGET_DEV_IDLE_USD_MONTH:g}/month"
    )
    detail("excluded: the SMS provider's own price per message (the platform's cost only)")
    detail(
        f"per-job figures use {PRICED_ENVIRONMENT}'s parameters: SmsTracing={tracing} "
        "(Active: one X-Ray trace per SMS invocation; PassThrough: none)"
    )
    for name, run, cost in (("full", full, full_cost), ("trickle", trickle, trickle_cost)):
        detail(
            f"{name}: {run.jobs} jobs in batches of {run.batch}, invocations "
            f"{run.invocations}, log bytes/job {run.log_bytes / run.jobs:.0f}"
        )
        for item, usd in sorted(cost.items.items(), key=lambda pair: pair[1], reverse=True):
            detail(f"{name} per million jobs {item}: ${usd:.2f}")
        for label, units in sorted(run.tally.wru.items(), key=lambda pair: -pair[1]):
            detail(f"{name} WRU/job {label}: {units / run.jobs:.2f}")
        for label, rru in sorted(run.tally.rru.items(), key=lambda pair: -pair[1]):
            detail(f"{name} RRU/job {label}: {rru / run.jobs:.2f}")
        calls = ", ".join(f"{k} {v / run.jobs:.2f}" for k, v in sorted(run.tally.calls.items()))
        detail(f"{name} AWS calls/job by the handlers: {calls}")
        ms = {f: round(run.modelled_ms[f] / run.invocations[f], 1) for f in run.invocations}
        detail(f"{name} modelled ms/invocation (client CPU + {CALL_LATENCY_MS:g} ms/call): {ms}")
    for line in dev_lines + prod_lines:
        detail(line)
    unverified = sorted(key for key, price in prices.items() if price.region != "ap-northeast-2")
    detail(f"prices not confirmed for Seoul (us-east-1 used): {', '.join(unverified)}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
