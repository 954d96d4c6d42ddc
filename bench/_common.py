"""Shared set-up for the benchmarks: import paths, a Lambda-like environment, the moto stack.

Importing this module puts the repository root, `functions/sms` (the function code) and
`layers/courier/src` (the layer, `/opt/python` on Lambda) on `sys.path`, so the benchmarks run
as plain scripts (`python bench/sms_batch.py`) with `PYTHONPATH` unset.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

ROOT = Path(__file__).resolve().parents[1]
FUNCTION_DIR = ROOT / "functions" / "sms"
LAYER_DIR = ROOT / "layers" / "courier" / "src"


def setup_paths() -> None:
    """Repository root, function code and layer code first on `sys.path` (idempotent)."""
    for path in (LAYER_DIR, FUNCTION_DIR, ROOT):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))


setup_paths()

# Re-exported for the benchmarks: tables from template.yaml, event files, a private redis-server.
from local.moto_stack import (  # noqa: E402
    ACCOUNT,
    REGION,
    FakeLambdaContext,
    SmsStack,
    create_table_from_template,
    sms_moto_stack,
)
from local.redis_server import redis_server  # noqa: E402
from local.template import load_event  # noqa: E402

__all__ = ["ACCOUNT", "REGION", "create_table_from_template", "load_event", "redis_server"]


if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

SOURCE_QUEUE = "courier-sms-transactional"
# What the template gives every function (Globals) plus the sender's own variables, with fake
# credentials so nothing can reach a real account. Tracing is off here: outside Lambda there is no
# X-Ray segment to attach to (cold_start measures with tracing on, as on Lambda).
LAMBDA_LIKE_ENV = {
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "POWERTOOLS_SERVICE_NAME": "courier-sms",
    "POWERTOOLS_METRICS_NAMESPACE": "Courier",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "SERVICE_TIMEZONE": "Asia/Seoul",
    "SMS_MESSAGES_TABLE": "SmsMessages",
    "SMS_OPT_OUT_TABLE": "SmsOptOuts",
    "SMS_PROVIDER": "sandbox",
    "SMS_RATE_LIMIT_MPS": "0",
}


def apply_env(overrides: Mapping[str, str] | None = None) -> None:
    """Set the Lambda-like environment (plus `overrides`) and forget cached settings."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "REDIS_URL", "REDIS_AUTH_SECRET_ARN"):
        os.environ.pop(name, None)
    os.environ.update(LAMBDA_LIKE_ENV)
    os.environ.update(overrides or {})
    from courier.settings import get_settings

    get_settings.cache_clear()


class _Discard(io.TextIOBase):
    """A text stream that formats nothing away: log records are still built, then dropped."""

    def write(self, s: str, /) -> int:
        return len(s)


def silence_logs() -> None:
    """Keep the Powertools logger working (JSON formatting included) but drop its output."""
    import logging

    from courier.observability import logger

    for handler in logger.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(_Discard())


def drop_metrics() -> None:
    """Forget the metrics of the last batch (the handler's decorator would flush them)."""
    from courier.observability import metrics

    metrics.clear_metrics()


def lambda_context() -> LambdaContext:
    return cast("LambdaContext", FakeLambdaContext(function_name="courier-bench"))


@contextmanager
def sms_stack(overrides: Mapping[str, str] | None = None) -> Iterator[SmsStack]:
    """The moto SMS stack (local/moto_stack.py) with the Lambda-like environment and `overrides`."""
    with sms_moto_stack(os.environ.__setitem__) as stack:
        apply_env(overrides)
        yield stack


def sms_jobs(count: int, *, tag: str | None = None) -> list[dict[str, Any]]:
    """`count` valid, distinct, single-part GSM jobs with job_ids never used before."""
    tag = tag or uuid.uuid4().hex[:12]
    return [
        {
            "schema_version": 1,
            "job_id": f"bench-{tag}-{index:05d}",
            "to": f"+8210{10_000_000 + index:08d}",
            "body": f"Your code is {index % 1_000_000:06d}. It expires in 5 minutes.",
            "metadata": {"purpose": "bench"},
        }
        for index in range(count)
    ]


def sqs_event(jobs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An SQS event with one record per job, shaped like events/sms/sender-valid.json."""
    template = load_event("sms/sender-valid.json")["Records"][0]
    records: list[dict[str, Any]] = []
    for job in jobs:
        record = copy.deepcopy(template)
        body = json.dumps(job)
        record["messageId"] = str(uuid.uuid4())
        record["receiptHandle"] = f"bench-receipt-{uuid.uuid4().hex}"
        record["body"] = body
        record["md5OfBody"] = hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()
        record["eventSourceARN"] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{SOURCE_QUEUE}"
        records.append(record)
    return {"Records": records}


class EmulatorMeter:
    """CPU time that moto spends answering requests, summed over all threads.

    Wraps moto's in-process request dispatcher and reads each thread's own CPU clock around it, so
    time a thread spends waiting for the GIL is not counted. On AWS this work happens on the
    service's side of a network round trip; here it runs in the benchmark's own process.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cpu_seconds = 0.0
        self.calls = 0

    @contextmanager
    def installed(self) -> Iterator[EmulatorMeter]:
        from moto.core.botocore_stubber import BotocoreStubber

        original = BotocoreStubber.process_request
        meter = self

        def process_request(stubber: BotocoreStubber, request: Any) -> Any:
            start = time.thread_time()
            try:
                return original(stubber, request)
            finally:
                spent = time.thread_time() - start
                with meter._lock:
                    meter.cpu_seconds += spent
                    meter.calls += 1

        BotocoreStubber.process_request = process_request  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            BotocoreStubber.process_request = original  # type: ignore[method-assign]

    def read(self) -> tuple[float, int]:
        with self._lock:
            return self.cpu_seconds, self.calls


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def summary(name: str, fields: Mapping[str, object]) -> str:
    """Print (and return) the one `bench <name>: key=value ...` line of a benchmark."""
    parts: list[str] = []
    for key, value in fields.items():
        text = str(value)
        if not text or any(ch.isspace() for ch in text) or any(ch.isspace() for ch in key):
            raise ValueError(f"summary field {key}={text!r} must have no spaces")
        parts.append(f"{key}={text}")
    line = f"bench {name}: " + " ".join(parts)
    print(line, flush=True)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    detail(
        f"machine: {os.cpu_count()} cpus, load average (1/5/15 min) {load}, "
        f"python {sys.version.split()[0]}"
    )
    return line


def detail(text: str) -> None:
    """A detail line (never starts with "bench ")."""
    print(f"  {text}", flush=True)
