"""Inbound SQS adapter: a batch of queue records → concurrent deliveries → a partial response.

Records are validated here (malformed → dead-letter queue with the reason, acknowledged so they are
never retried), delivered concurrently on a bounded thread pool (the rate limiter keeps the pace),
and transient failures are reported as batch item failures after pushing their visibility out with
exponential backoff, so a throttled provider is not hammered by immediate redeliveries.

A job that must wait through no fault of its own (the rate budget is spent, another delivery holds
it) is *deferred*: put back on its queue with a delay and acknowledged, so waiting never counts
toward maxReceiveCount. Deferrals are counted in a message attribute and capped, after which the
job takes the ordinary retry path (and, in the end, the redrive policy).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from courier.aws_errors import is_transient
from courier.observability import add_counts, logger
from courier.sms.contract import SmsJob
from courier.sms.delivery import DeferJob, DeliveryOutcome, PoisonJob, RetryLater, SmsSender
from courier.sms.queues import deferrals_of
from courier.sqs_batch import SqsRecord, async_process_partial_response
from courier.validation import describe_problems

_T = TypeVar("_T")
# SmsFailureRateAlarm reads these two: published every invocation, zeros included.
ALARM_INPUTS = frozenset({"sent", "failed"})

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from courier.sms.queues import SqsQueues


def parse_job(body: str) -> SmsJob:
    """An SmsJob from a queue body, or PoisonJob saying exactly what is wrong with it."""
    try:
        data = json.loads(body)
    except json.JSONDecodeError as error:
        raise PoisonJob(
            "MALFORMED_JSON", f"body is not JSON: {error.msg} (character {error.pos})"
        ) from error
    if not isinstance(data, dict):
        raise PoisonJob("SCHEMA_VIOLATION", "body is not a JSON object")
    if data.get("schema_version", 1) != 1:
        raise PoisonJob("UNSUPPORTED_VERSION", f"schema_version {data.get('schema_version')!r}")
    try:
        return SmsJob.model_validate(data)
    except ValidationError as error:
        problems = describe_problems(error)
        raise PoisonJob("SCHEMA_VIOLATION", problems) from error


class SqsJobConsumer:
    """Processes one SQS batch of SmsJob messages; reports only the records to retry."""

    def __init__(
        self,
        sender: SmsSender,
        queues: SqsQueues,
        *,
        concurrency: int,
        retry_base_seconds: int,
        retry_max_seconds: int,
        max_deferrals: int = 50,
        rng: random.Random | None = None,
    ) -> None:
        self._sender = sender
        self._queues = queues
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="sms-send")
        self._retry_base = retry_base_seconds
        self._retry_max = retry_max_seconds
        self._max_deferrals = max_deferrals
        self._rng = rng or random.Random()
        self._counts: Counter[str] = Counter()
        self._job_locks: dict[str, asyncio.Lock] = {}

    def process_batch(self, event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        self._counts = Counter()
        self._job_locks = {}
        # A partial response even when every record fails: the retry decision is per record.
        response = async_process_partial_response(event, self._handle_record)
        self._emit_metrics()
        return dict(response)

    async def _handle_record(self, record: SqsRecord) -> str:
        try:
            job = parse_job(record.body)
            # Two copies of one job in a batch run one after the other: the second then finds the
            # first's saved result (a clean duplicate) instead of an in-progress record (a retry).
            async with self._job_locks.setdefault(job.job_id, asyncio.Lock()):
                outcome = await self._in_pool(lambda: self._sender.deliver(job))
        except PoisonJob as poison:
            await self._dead_letter(record, poison)
            return "DEAD_LETTERED"
        except DeferJob as wait:
            if await self._defer(record, wait):
                return "DEFERRED"
            await self._back_off(record, wait.code)
            raise RetryLater(wait.code, "deferred too often") from wait
        except RetryLater as retry:
            if retry.store_unavailable and await self._defer(record, self._store_wait(record)):
                return "DEFERRED"
            await self._back_off(record, retry.code)
            raise
        except Exception as error:
            if is_transient(error) and await self._defer(record, self._store_wait(record)):
                # DynamoDB throttled or unreachable: not the job's fault, so no receive is burnt.
                return "DEFERRED"
            # Unknown trouble (a bug, a lasting outage): retry; the redrive policy is the backstop.
            logger.exception(
                "sms record failed unexpectedly", extra={"message_id": record.message_id}
            )
            await self._back_off(record, "UNEXPECTED")
            raise
        await self._settle(record, outcome)
        return outcome.status

    async def _settle(self, record: SqsRecord, outcome: DeliveryOutcome) -> None:
        if outcome.status == "DEFERRED":
            # Scheduled jobs wait for their time: not a deferral that counts toward the cap.
            await self._requeue(record, outcome.defer_seconds, deferrals=None)
            self._counts["scheduled"] += 1
            return
        if outcome.deduplicated:
            self._counts["deduplicated"] += 1
            logger.info("sms duplicate skipped", extra={"job_id": outcome.job_id})
            return
        self._counts[outcome.status.lower()] += 1
        if outcome.status == "SENT":
            self._counts["parts"] += outcome.parts

    def _store_wait(self, record: SqsRecord) -> DeferJob:
        """A store outage's wait: the backoff schedule, by how often the job was put back."""
        return DeferJob("STORE_UNAVAILABLE", self.backoff_seconds(deferrals_of(record) + 1))

    async def _defer(self, record: SqsRecord, wait: DeferJob) -> bool:
        """Re-queue the record with a delay; False when it has been deferred too often."""
        deferrals = deferrals_of(record) + 1
        if deferrals > self._max_deferrals:
            logger.warning(
                "sms deferral cap reached; retrying instead",
                extra={"message_id": record.message_id, "code": wait.code},
            )
            return False
        # Jitter spreads the deferred jobs out, so they do not all come back in the same second.
        seconds = wait.seconds + self._rng.uniform(0, max(1.0, wait.seconds / 2))
        await self._requeue(record, seconds, deferrals=deferrals)
        self._counts["deferred"] += 1
        logger.info(
            "sms deferred",
            extra={
                "message_id": record.message_id,
                "code": wait.code,
                "delay_seconds": round(seconds, 1),
                "deferrals": deferrals,
            },
        )
        return True

    async def _in_pool(self, call: Callable[[], _T]) -> _T:
        """Run a blocking call (a delivery, an SQS request) on the bounded pool."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, call)

    async def _requeue(self, record: SqsRecord, seconds: float, *, deferrals: int | None) -> None:
        await self._in_pool(
            lambda: self._queues.requeue(
                queue_arn=record.event_source_arn,
                body=record.body,
                delay_seconds=seconds,
                deferrals=deferrals if deferrals is not None else deferrals_of(record),
            ),
        )

    async def _dead_letter(self, record: SqsRecord, poison: PoisonJob) -> None:
        logger.warning(
            "sms job dead-lettered",
            extra={"message_id": record.message_id, "code": poison.code, "reason": poison.detail},
        )
        await self._in_pool(
            lambda: self._queues.dead_letter(
                body=record.body,
                code=poison.code,
                reason=poison.detail,
                source_arn=record.event_source_arn,
                source_message_id=record.message_id,
            ),
        )
        self._counts["dead_lettered"] += 1

    def backoff_seconds(self, receive_count: int) -> int:
        """Exponential backoff with jitter: half the step fixed, half random."""
        step = min(self._retry_max, self._retry_base * 2 ** max(0, receive_count - 1))
        return int(step / 2 + self._rng.uniform(0, step / 2))

    async def _back_off(self, record: SqsRecord, code: str) -> None:
        self._counts["retried"] += 1
        receive_count = int(record.approximate_receive_count or 1)
        seconds = self.backoff_seconds(receive_count)
        logger.info(
            "sms retry scheduled",
            extra={"message_id": record.message_id, "code": code, "backoff_seconds": seconds},
        )
        try:
            await self._in_pool(
                lambda: self._queues.back_off(
                    queue_arn=record.event_source_arn,
                    receipt_handle=record.receipt_handle,
                    seconds=seconds,
                ),
            )
        except Exception:
            # The record still fails; it just comes back after the queue's own visibility timeout.
            logger.exception("could not set retry backoff", extra={"message_id": record.message_id})

    def _emit_metrics(self) -> None:
        degraded = self._sender.take_rate_limit_degraded()
        if degraded:
            self._counts["rate_limit_degraded"] += degraded
        names = {
            "sent": "SmsSent",
            "failed": "SmsFailed",
            "unknown": "SmsOutcomeUnknown",
            "scheduled": "SmsScheduled",
            "rate_limit_degraded": "SmsRateLimitDegraded",
            "retried": "SmsRetried",
            "deduplicated": "SmsDeduplicated",
            "dead_lettered": "SmsDeadLettered",
            "deferred": "SmsDeferred",
            "parts": "SmsParts",
        }
        add_counts(self._counts, names, zeros_for=ALARM_INPUTS)

    @property
    def last_batch_counts(self) -> dict[str, int]:
        return dict(self._counts)
