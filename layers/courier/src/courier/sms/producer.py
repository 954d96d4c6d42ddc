"""Producer library: validate `SmsJob` v1 jobs and put them on the SMS queues in batches.

    results = send_jobs([{"job_id": "otp-1", "to": "+821012345678", "body": "Code: 123456"}])

Every job is validated first (invalid jobs are never sent), routed by priority to the
transactional or bulk queue, and sent with SendMessageBatch (at most 10 entries and
`max_batch_bytes` per call). Only the entries that failed on the service side are retried,
with exponential backoff and full jitter; entries the service rejects as the sender's fault
are reported, not retried. One `JobResult` comes back per input, in input order.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pydantic import ValidationError

from courier.observability import logger, mask_phone
from courier.sms.contract import SCHEMA_VERSION, Priority, SmsJob
from courier.sms.segments import Encoding, segment

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        MessageAttributeValueTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

    from courier.settings import Settings

MAX_BATCH_ENTRIES = 10
# SQS counts the body plus every attribute's name, type and value against this limit, per
# message and for the sum of a batch. 256 KiB is the long-standing limit (and what emulators
# enforce); queues in AWS may accept more, never less unless MaximumMessageSize is lowered.
MAX_BATCH_BYTES = 262_144
MAX_DELAY_SECONDS = 900

JobStatus = Literal["queued", "valid", "invalid", "failed"]
JobInput: TypeAlias = SmsJob | Mapping[str, Any] | str | bytes

# Whole-call errors worth another attempt (besides any 5xx or 429 status).
RETRYABLE_ERROR_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "AWS.SimpleQueueService.RequestThrottled",
        "KmsThrottled",
        "KMS.ThrottlingException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


@dataclass(frozen=True, slots=True)
class JobError:
    """Why a job was not queued: a machine-readable code and a log-safe reason."""

    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class JobResult:
    """The outcome for one input job, at the same position as the input."""

    index: int
    job_id: str | None
    status: JobStatus
    queue: Priority | None = None
    message_id: str | None = None
    error: JobError | None = None
    attempts: int = 0
    encoding: Encoding | None = None
    parts: int | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("queued", "valid")

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view (what the CLI prints)."""
        return {
            "index": self.index,
            "job_id": self.job_id,
            "status": self.status,
            "queue": self.queue.value if self.queue else None,
            "message_id": self.message_id,
            "error": {"code": self.error.code, "reason": self.error.reason} if self.error else None,
            "attempts": self.attempts,
            "encoding": self.encoding,
            "parts": self.parts,
        }


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded attempts with exponential backoff and full jitter between them."""

    max_attempts: int = 5
    base_delay: float = 0.1
    max_delay: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """Seconds to wait before retry number `retry_number` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry_number - 1))
        return rng.uniform(0.0, ceiling)


@dataclass(slots=True)
class _Prepared:
    """A valid job turned into its SendMessageBatch entry."""

    index: int
    job: SmsJob
    entry: SendMessageBatchRequestEntryTypeDef
    size: int
    attempts: int = field(default=0)


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _summarize(exc: ValidationError) -> tuple[str, str]:
    """A short, value-free summary of a validation error (inputs may hold numbers or bodies)."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if any(err["type"] == "json_invalid" for err in errors):
        return "invalid_json", "not a valid JSON document"
    parts: list[str] = []
    seen: set[str] = set()
    for err in errors:
        # Union members add their type name to the location; one message per field is enough.
        loc = ".".join(str(p) for p in err["loc"] if p not in ("str", "int", "float", "bool"))
        key = loc or "job"
        if key in seen:
            continue
        seen.add(key)
        parts.append(f"{key}: {err['msg']}")
    limit = 5
    reason = "; ".join(parts[:limit])
    if len(parts) > limit:
        reason += f"; (+{len(parts) - limit} more)"
    return "validation_error", reason


def _claimed_job_id(item: object) -> str | None:
    """The job_id an invalid input claims, when there is a string one (for reporting only)."""
    data: object = item
    if isinstance(item, str | bytes):
        try:
            data = json.loads(item)
        except ValueError:
            return None
    if isinstance(data, Mapping):
        value = data.get("job_id")
        if isinstance(value, str):
            return value[:128]
    return None


def parse_job(item: object) -> SmsJob | JobError:
    """An `SmsJob` from a model, a mapping or a JSON document, or why it is not one."""
    try:
        if isinstance(item, SmsJob):
            return item
        if isinstance(item, str | bytes):
            return SmsJob.model_validate_json(item)
        if isinstance(item, Mapping):
            return SmsJob.model_validate(dict(item))
    except ValidationError as exc:
        code, reason = _summarize(exc)
        return JobError(code, reason)
    return JobError("unsupported_type", f"cannot read a job from {type(item).__name__}")


def message_body(job: SmsJob) -> str:
    """The queue message body: the job as compact, schema-valid JSON (absent fields omitted).

    SQS accepts only XML-legal characters; U+FFFE and U+FFFF are legal in JSON strings but
    not on the queue, so they are written as JSON escapes (the parsed value is unchanged).
    """
    text = job.model_dump_json(exclude_none=True)
    return text.replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")


def delay_seconds(job: SmsJob, now: datetime) -> int | None:
    """SQS DelaySeconds for a job due within 15 minutes; None when due now or later than that.

    Rounded up so the message never becomes visible before `send_at`. Jobs due later are
    sent without a delay: the sender holds them until they are due.
    """
    due = job.due_in_seconds(now)
    if due <= 0 or due > MAX_DELAY_SECONDS:
        return None
    return min(MAX_DELAY_SECONDS, math.ceil(due))


def _entry_size(entry: SendMessageBatchRequestEntryTypeDef) -> int:
    """Bytes SQS counts for one message: body plus attribute names, types and values."""
    size = len(entry["MessageBody"].encode())
    for name, attr in entry.get("MessageAttributes", {}).items():
        size += len(name.encode()) + len(attr["DataType"].encode())
        size += len(attr.get("StringValue", "").encode())
    return size


def _build_entry(index: int, job: SmsJob, now: datetime) -> SendMessageBatchRequestEntryTypeDef:
    attributes: dict[str, MessageAttributeValueTypeDef] = {
        "schema_version": {"DataType": "Number", "StringValue": str(SCHEMA_VERSION)},
        "job_id": {"DataType": "String", "StringValue": job.job_id},
        "priority": {"DataType": "String", "StringValue": job.priority.value},
    }
    # Batch entry ids allow only [A-Za-z0-9_-]{1,80}; job_id allows more, so use the position.
    entry: SendMessageBatchRequestEntryTypeDef = {
        "Id": str(index),
        "MessageBody": message_body(job),
        "MessageAttributes": attributes,
    }
    delay = delay_seconds(job, now)
    if delay is not None:
        entry["DelaySeconds"] = delay
    return entry


class SmsProducer:
    """Puts validated SMS jobs on the transactional and bulk queues.

    `client` is an SQS client (or None with `client_factory`, which builds one on first send,
    so validation-only runs need neither boto3 nor credentials). `queue_urls` maps each
    priority to its queue; a job whose priority has no URL fails with `queue_not_configured`.
    """

    def __init__(
        self,
        client: SQSClient | None,
        queue_urls: Mapping[Priority, str],
        *,
        client_factory: Callable[[], SQSClient] | None = None,
        retry: RetryPolicy | None = None,
        max_batch_bytes: int = MAX_BATCH_BYTES,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = _utc_now,
        rng: random.Random | None = None,
    ) -> None:
        if client is None and client_factory is None:
            raise ValueError("give an SQS client or a client_factory")
        if max_batch_bytes < 1:
            raise ValueError("max_batch_bytes must be positive")
        self._client = client
        self._client_factory = client_factory
        self.queue_urls: dict[Priority, str] = {p: url for p, url in queue_urls.items() if url}
        self.retry = retry or RetryPolicy()
        self.max_batch_bytes = max_batch_bytes
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # jitter, not cryptography

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        transactional_queue_url: str | None = None,
        bulk_queue_url: str | None = None,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        retry: RetryPolicy | None = None,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> SmsProducer:
        """A producer for the queues in settings (or the overrides), with a lazily built client.

        botocore's own retries are switched off: this class retries whole-call errors itself,
        so attempts are bounded once, not multiplied.
        """
        if settings is None:
            from courier.settings import get_settings

            settings = get_settings()
        urls = {
            Priority.TRANSACTIONAL: transactional_queue_url or settings.sms_transactional_queue_url,
            Priority.BULK: bulk_queue_url or settings.sms_bulk_queue_url,
        }
        endpoint = endpoint_url or settings.aws_endpoint_url or None
        url_region = next((r for r in map(_region_from_queue_url, urls.values()) if r), None)

        def factory() -> SQSClient:
            import boto3
            from botocore.config import Config

            session = boto3.session.Session()
            config = Config(
                retries={"mode": "standard", "total_max_attempts": 1},
                connect_timeout=5,
                read_timeout=15,
            )
            return session.client(
                "sqs",
                endpoint_url=endpoint,
                # Explicit region, else the environment/profile, else the queue URL's region.
                region_name=region_name or session.region_name or url_region,
                config=config,
            )

        return cls(None, urls, client_factory=factory, retry=retry, max_batch_bytes=max_batch_bytes)

    @property
    def client(self) -> SQSClient:
        if self._client is None:
            assert self._client_factory is not None
            self._client = self._client_factory()
        return self._client

    def validate(self, jobs: Iterable[JobInput]) -> list[JobResult]:
        """What `send` would do, without sending: "valid" or "invalid" per job."""
        results, prepared = self._prepare(jobs)
        for p in prepared:
            results[p.index] = self._result(p, "valid")
        return _ordered(results)

    def send(self, jobs: Iterable[JobInput]) -> list[JobResult]:
        """Validate, route and send jobs; one result per input, in input order."""
        results, prepared = self._prepare(jobs)
        by_priority: dict[Priority, list[_Prepared]] = {}
        for p in prepared:
            by_priority.setdefault(p.job.priority, []).append(p)
        for priority in Priority:  # transactional first: codes never wait behind a campaign
            group = by_priority.get(priority, [])
            if not group:
                continue
            url = self.queue_urls.get(priority)
            if not url:
                error = JobError(
                    "queue_not_configured", f"no queue URL for priority {priority.value}"
                )
                for p in group:
                    results[p.index] = self._result(p, "failed", error=error)
                continue
            for batch in self._batches(group):
                results.update(self._send_batch(url, batch))
        ordered = _ordered(results)
        counts = {s: sum(r.status == s for r in ordered) for s in ("queued", "invalid", "failed")}
        logger.info("sms jobs sent", extra={"jobs": len(ordered), **counts})
        return ordered

    # Preparation -----------------------------------------------------------------------

    def _prepare(self, jobs: Iterable[JobInput]) -> tuple[dict[int, JobResult], list[_Prepared]]:
        results: dict[int, JobResult] = {}
        prepared: list[_Prepared] = []
        first_index: dict[str, int] = {}
        now = self._clock()
        for index, item in enumerate(jobs):
            parsed = parse_job(item)
            if isinstance(parsed, JobError):
                results[index] = self._invalid(index, _claimed_job_id(item), parsed)
                continue
            if parsed.job_id in first_index:
                error = JobError(
                    "duplicate_job_id",
                    f"job_id already used by the job at index {first_index[parsed.job_id]} "
                    "in this request",
                )
                results[index] = self._invalid(index, parsed.job_id, error)
                continue
            first_index[parsed.job_id] = index
            try:
                entry = _build_entry(index, parsed, now)
            except ValueError as exc:  # e.g. lone surrogates that cannot be encoded
                error = JobError("unencodable", f"job cannot be encoded as UTF-8 JSON: {exc}")
                results[index] = self._invalid(index, parsed.job_id, error)
                continue
            size = _entry_size(entry)
            if size > self.max_batch_bytes:
                error = JobError(
                    "too_large", f"message is {size} bytes, over {self.max_batch_bytes}"
                )
                results[index] = self._invalid(index, parsed.job_id, error)
                continue
            prepared.append(_Prepared(index, parsed, entry, size))
        return results, prepared

    def _invalid(self, index: int, job_id: str | None, error: JobError) -> JobResult:
        logger.warning(
            "sms job invalid", extra={"index": index, "job_id": job_id, "code": error.code}
        )
        return JobResult(index=index, job_id=job_id, status="invalid", error=error)

    def _batches(self, group: Sequence[_Prepared]) -> Iterable[list[_Prepared]]:
        """Consecutive batches of at most 10 entries and `max_batch_bytes` bytes."""
        batch: list[_Prepared] = []
        batch_bytes = 0
        for p in group:
            if batch and (
                len(batch) == MAX_BATCH_ENTRIES or batch_bytes + p.size > self.max_batch_bytes
            ):
                yield batch
                batch, batch_bytes = [], 0
            batch.append(p)
            batch_bytes += p.size
        if batch:
            yield batch

    # Sending ---------------------------------------------------------------------------

    def _send_batch(self, url: str, batch: list[_Prepared]) -> dict[int, JobResult]:
        from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as TransportError

        results: dict[int, JobResult] = {}
        by_id = {p.entry["Id"]: p for p in batch}
        pending = list(batch)
        attempt = 0
        while pending:
            attempt += 1
            for p in pending:
                p.attempts = attempt
            retry_later: list[_Prepared] = []
            last_error: JobError
            try:
                response = self.client.send_message_batch(
                    QueueUrl=url, Entries=[p.entry for p in pending]
                )
            except ClientError as exc:
                err = exc.response.get("Error", {})
                code = str(err.get("Code", "ClientError"))
                status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
                last_error = JobError(code, str(err.get("Message", "")) or code)
                if code in RETRYABLE_ERROR_CODES or status >= 500 or status == 429:
                    retry_later = pending
                else:
                    for p in pending:
                        results[p.index] = self._result(p, "failed", error=last_error)
            except (TransportError, HTTPClientError) as exc:  # connection errors and timeouts
                last_error = JobError(type(exc).__name__, str(exc))
                retry_later = pending
            except BotoCoreError as exc:  # credentials, parameter validation, ...
                last_error = JobError(type(exc).__name__, str(exc))
                for p in pending:
                    results[p.index] = self._result(p, "failed", error=last_error)
            else:
                answered: set[str] = set()
                for ok in response.get("Successful", []):
                    p = by_id[ok["Id"]]
                    answered.add(ok["Id"])
                    results[p.index] = self._result(p, "queued", message_id=ok["MessageId"])
                last_error = JobError("unanswered", "entry missing from the SQS response")
                for failed in response.get("Failed", []):
                    p = by_id[failed["Id"]]
                    answered.add(failed["Id"])
                    error = JobError(failed["Code"], failed.get("Message", "") or failed["Code"])
                    if failed["SenderFault"]:
                        results[p.index] = self._result(p, "failed", error=error)
                    else:
                        last_error = error
                        retry_later.append(p)
                # An entry the response does not mention may or may not be queued; sending it
                # again is safe because the sender deduplicates on job_id.
                retry_later.extend(p for p in pending if p.entry["Id"] not in answered)
                retry_later.sort(key=lambda p: p.index)

            if not retry_later:
                break
            if attempt >= self.retry.max_attempts:
                for p in retry_later:
                    results[p.index] = self._result(p, "failed", error=last_error)
                break
            wait = self.retry.backoff(attempt, self._rng)
            logger.info(
                "sms batch retry",
                extra={
                    "priority": batch[0].job.priority.value,
                    "retrying": len(retry_later),
                    "attempt": attempt,
                    "code": last_error.code,
                    "wait_seconds": round(wait, 3),
                },
            )
            self._sleep(wait)
            pending = retry_later
        return results

    def _result(
        self,
        p: _Prepared,
        status: JobStatus,
        *,
        message_id: str | None = None,
        error: JobError | None = None,
    ) -> JobResult:
        seg = segment(p.job.body)
        if status == "failed":
            logger.warning(
                "sms job failed",
                extra={
                    "job_id": p.job.job_id,
                    "to": mask_phone(p.job.to),
                    "code": error.code if error else None,
                    "attempts": p.attempts,
                },
            )
        return JobResult(
            index=p.index,
            job_id=p.job.job_id,
            status=status,
            queue=p.job.priority,
            message_id=message_id,
            error=error,
            attempts=p.attempts,
            encoding=seg.encoding,
            parts=seg.parts,
        )


def _ordered(results: Mapping[int, JobResult]) -> list[JobResult]:
    return [results[i] for i in sorted(results)]


def _region_from_queue_url(url: str) -> str | None:
    """The region in an AWS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>)."""
    host = url.split("://", 1)[-1].split("/", 1)[0]
    labels = host.split(".")
    if len(labels) >= 4 and labels[0] == "sqs" and labels[2] == "amazonaws":
        return labels[1]
    return None


def send_jobs(jobs: Iterable[JobInput], *, producer: SmsProducer | None = None) -> list[JobResult]:
    """Validate and send jobs (SmsJob, dicts or JSON strings); one result per job, in order.

    Without `producer`, one is built from settings (SMS_TRANSACTIONAL_QUEUE_URL,
    SMS_BULK_QUEUE_URL, AWS_ENDPOINT_URL).
    """
    return (producer or SmsProducer.from_settings()).send(jobs)


def validate_jobs(jobs: Iterable[JobInput]) -> list[JobResult]:
    """Validate jobs as `send_jobs` would, sending nothing (status "valid" or "invalid")."""
    return SmsProducer(None, {}, client_factory=_no_client).validate(jobs)


def _no_client() -> SQSClient:
    raise RuntimeError("validation does not use SQS")
