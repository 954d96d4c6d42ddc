"""Delivers one validated SmsJob at most once: opt-out, number check, rate limit, send, status.

The provider call sits inside a Powertools idempotent function keyed on `job_id`, so a job that
SQS delivers twice (or a producer sends twice, or an operator redrives) reaches the provider at
most once. The provider is called in one attempt; an answer lost after the request was written is
an *unknown outcome*: the key is kept, the job is recorded UNKNOWN, and its delivery receipt
(which carries `job_id` in the provider's message context) settles it.

An idempotency record left INPROGRESS (the process died during the send) never expires on its
own: no Lambda context is registered, so Powertools keeps it until the claim's expiry. A
redelivery that finds it waits (deferred) until the record is older than any invocation can
live, then records the job UNKNOWN rather than sending again: the provider may have it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from courier.aws_errors import is_transient
from courier.observability import logger, mask_phone
from courier.rate_limit import RateLimiter, RateLimitExceeded
from courier.sms import numbers
from courier.sms.contract import Priority, SmsJob
from courier.sms.providers import (
    OutboundSms,
    PermanentSendError,
    RetryableSendError,
    SmsProvider,
    UnknownOutcomeError,
)
from courier.sms.segments import Segmentation, segment
from courier.sms.status import SmsStatus, StatusChange

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

    from courier.sms.phone_keys import PhoneKeys


class RetryLater(Exception):
    """A transient failure: hand the record back to the queue to be tried again.

    `store_unavailable`: our own storage failed (throttled, unreachable), not the job or the
    provider, so the job is deferred rather than failed (see SqsJobConsumer).
    """

    def __init__(self, code: str, detail: str = "", *, store_unavailable: bool = False) -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.store_unavailable = store_unavailable


class DeferJob(Exception):
    """Not now, through no fault of the job (rate budget, a delivery in progress): put it back on
    the queue with a delay instead of failing it, so the wait does not count toward the queue's
    maxReceiveCount and cannot dead-letter a good job."""

    def __init__(self, code: str, seconds: float) -> None:
        super().__init__(f"{code}: defer {seconds:.1f}s")
        self.code = code
        self.seconds = seconds


class PoisonJob(Exception):
    """The job can never be processed as sent: it belongs in the dead-letter queue."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What became of one job."""

    job_id: str
    status: str  # SENT | FAILED | UNKNOWN | DEFERRED
    reason: str | None = None
    provider_message_id: str | None = None
    parts: int = 0
    deduplicated: bool = False
    defer_seconds: float = 0.0


class OptOuts(Protocol):
    def is_opted_out(self, phone_number: str) -> bool: ...


class StatusRecorder(Protocol):
    def record(
        self,
        change: StatusChange,
        *,
        describe: dict[str, object] | None = None,
        always: dict[str, object] | None = None,
    ) -> bool: ...

    def day_keys(self, job_id: str, at: datetime) -> dict[str, str]: ...


_MESSAGE_TYPE = {Priority.TRANSACTIONAL: "TRANSACTIONAL", Priority.BULK: "PROMOTIONAL"}

# How a job's idempotency record is keyed (the DLQ redrive reads the same records).
IDEMPOTENCY_KEY_JMESPATH = "job_id"
IDEMPOTENCY_KEY_PREFIX = "courier.sms.job"


class SmsSender:
    """Sends jobs through one provider; safe to call from several threads at once."""

    def __init__(
        self,
        *,
        provider: SmsProvider,
        status: StatusRecorder,
        opt_outs: OptOuts,
        rate_limiter: RateLimiter,
        idempotency_store: BasePersistenceLayer,
        max_parts: int,
        schedule_horizon: timedelta,
        idempotency_ttl_seconds: int,
        in_progress_stale_seconds: float = 120.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        phone_keys: PhoneKeys | None = None,
    ) -> None:
        from aws_lambda_powertools.utilities.idempotency import (
            IdempotencyConfig,
            idempotent_function,
        )

        self._provider = provider
        self._status = status
        self._opt_outs = opt_outs
        self._limiter = rate_limiter
        self._max_parts = max_parts
        self._horizon = schedule_horizon
        self._clock = clock
        self._phone_keys = phone_keys
        self._idempotency_store = idempotency_store
        self._idempotency_ttl = idempotency_ttl_seconds
        self._stale_after = in_progress_stale_seconds
        # This thread's last attempt result (job_id, result): when Powertools fails to save it,
        # the outcome is still known here (see _settle_unsaved).
        self._attempted = threading.local()
        # No Lambda context is ever registered: an INPROGRESS record must not expire while the
        # provider may have taken the message (see the module docstring).
        self._config = IdempotencyConfig(
            event_key_jmespath=IDEMPOTENCY_KEY_JMESPATH,
            # The same job_id with another number or text is a producer bug, not a duplicate.
            payload_validation_jmespath="[to, body]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=idempotency_ttl_seconds,
            response_hook=self._mark_replayed,
        )
        self._send_once = idempotent_function(
            self._send,
            data_keyword_argument="job",
            persistence_store=idempotency_store,
            config=self._config,
            # One key space for every sender function: Powertools would otherwise prefix the key
            # with the Lambda function's name, and the transactional and bulk senders (or a
            # renamed function) would each send the same job_id once.
            key_prefix=IDEMPOTENCY_KEY_PREFIX,
        )

    @staticmethod
    def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
        return {**response, "deduplicated": True}

    def take_rate_limit_degraded(self) -> int:
        """Sends paced by this instance alone (the shared limiter was down) since the last call."""
        take = getattr(self._limiter, "take_degraded_count", None)
        return int(take()) if callable(take) else 0

    def deliver(self, job: SmsJob) -> DeliveryOutcome:
        """Send `job` unless already sent; raise DeferJob, RetryLater or PoisonJob when not now."""
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        now = self._clock()
        due_in = job.due_in_seconds(now)
        if due_in > self._horizon.total_seconds():
            return self._fail_before_send(job, now, "SCHEDULE_TOO_FAR")
        if due_in > 0:
            return DeliveryOutcome(job.job_id, "DEFERRED", defer_seconds=due_in)
        seg = segment(job.body)
        if self._refusal_without_io(job, seg.parts) is None:
            # Taken before the idempotent section: a refusal there would have to delete the
            # INPROGRESS record, and a failed delete would leave the job looking interrupted.
            try:
                self._limiter.acquire(seg.parts)
            except RateLimitExceeded as error:
                raise DeferJob("RATE_LIMITED", error.wait_seconds) from error
        payload = job.model_dump(mode="json")
        self._attempted.value = None
        try:
            result = self._send_once(job=payload)
        except IdempotencyValidationError as error:
            raise PoisonJob(
                "JOB_ID_REUSED", "job_id was seen before with another to/body"
            ) from error
        except IdempotencyAlreadyInProgressError:
            result = self._interrupted_or_defer(job, payload, seg)
        except IdempotencyPersistenceLayerError as error:
            result = self._settle_unsaved(job, payload, error)
        outcome = DeliveryOutcome(
            job_id=job.job_id,
            status=result["status"],
            reason=result.get("reason"),
            provider_message_id=result.get("provider_message_id"),
            parts=result.get("parts", 0),
            deduplicated=result.get("deduplicated", False),
        )
        # A store that keeps its record in the job's item (courier.sms.job_claims) wrote the
        # status with the result, in one write. Otherwise, and on replays: a crash after the send
        # but before this write is healed by the redelivery, which gets the saved result instead
        # of calling the provider again.
        if not self._status_written_with_result(job.job_id):
            self._record(job, result)
        return outcome

    def _status_written_with_result(self, job_id: str) -> bool:
        take = getattr(self._idempotency_store, "take_recorded", None)
        return bool(take(job_id)) if callable(take) else False

    def _settle_unsaved(
        self, job: SmsJob, payload: dict[str, Any], error: Exception
    ) -> dict[str, Any]:
        """The idempotency store failed around an attempt. Before it (the INPROGRESS put) or on
        a failed attempt's delete: retry later. After a finished attempt (saving its result):
        the outcome is known here, so it is saved once more and recorded; retrying instead
        would find the record INPROGRESS, wait, and record a refused or sent job as UNKNOWN."""
        attempted = self._attempted.value
        if attempted is None or attempted[0] != job.job_id:
            raise RetryLater(
                "IDEMPOTENCY_STORE", str(error), store_unavailable=is_transient(error)
            ) from error
        result: dict[str, Any] = attempted[1]
        try:
            self._idempotency_store.save_success(data=payload, result=result)
        except Exception:
            # The record stays INPROGRESS: a duplicate of this job waits, then is UNKNOWN, and
            # is never sent again. The status below is still the true outcome.
            logger.warning(
                "could not save the delivery result; its record stays in progress",
                extra={"job_id": job.job_id, "status": result["status"]},
            )
        return result

    def _interrupted_or_defer(
        self, job: SmsJob, payload: dict[str, Any], seg: Segmentation
    ) -> dict[str, Any]:
        """Another delivery holds the key: wait for it, or, once it cannot be alive any more,
        record the job UNKNOWN (the provider may have it) and keep the key."""
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyItemNotFoundError,
            IdempotencyValidationError,
        )

        try:
            record = self._idempotency_store.get_record(data=payload)
        except IdempotencyItemNotFoundError:
            raise DeferJob("IN_PROGRESS", 1.0) from None
        except IdempotencyValidationError as error:
            raise PoisonJob(
                "JOB_ID_REUSED", "job_id was seen before with another to/body"
            ) from error
        except Exception as error:
            raise RetryLater(
                "IDEMPOTENCY_STORE", str(error), store_unavailable=is_transient(error)
            ) from error
        if record is None or record.status != "INPROGRESS":
            raise DeferJob("IN_PROGRESS", 1.0)
        # Powertools stamps the record from the wall clock: `clock` must be that clock (tests
        # and the fault suite move it forward from there).
        started = float(record.expiry_timestamp or 0) - self._idempotency_ttl
        age = self._clock().timestamp() - started
        if age < self._stale_after:
            raise DeferJob("IN_PROGRESS", self._stale_after - age + 1)
        result: dict[str, Any] = {
            "status": "UNKNOWN",
            "reason": "OUTCOME_UNKNOWN:INTERRUPTED",
            "parts": seg.parts,
            "encoding": seg.encoding,
            "provider": self._provider.name,
            "at": self._clock().isoformat(),
        }
        logger.warning(
            "sms delivery interrupted earlier; outcome unknown, not sending again",
            extra={"job_id": job.job_id, "to": mask_phone(job.to), "age_seconds": round(age)},
        )
        try:
            # Later deliveries (a redrive among them) replay this instead of reading the record.
            self._idempotency_store.save_success(data=payload, result=result)
        except Exception:
            logger.exception(
                "could not settle the interrupted record", extra={"job_id": job.job_id}
            )
        return result

    def _refusal_without_io(self, job: SmsJob, parts: int) -> str | None:
        """Why the job can never be sent, from the job alone (no store is asked)."""
        if not numbers.is_valid_number(job.to):
            return "INVALID_NUMBER"
        if parts > self._max_parts:
            return "TOO_MANY_PARTS"
        return None

    def _send(self, job: dict[str, Any]) -> dict[str, Any]:
        """Runs at most once per job_id (until it raises, which frees the key for a retry)."""
        result = self._attempt(job)
        self._attempted.value = (job["job_id"], result)
        return result

    def _attempt(self, job: dict[str, Any]) -> dict[str, Any]:
        sms = SmsJob.model_validate(job)
        seg = segment(sms.body)
        base = {"parts": seg.parts, "encoding": seg.encoding}

        def failed(reason: str) -> dict[str, Any]:
            logger.info(
                "sms failed permanently",
                extra={"job_id": sms.job_id, "to": mask_phone(sms.to), "reason": reason},
            )
            return {**base, "status": "FAILED", "reason": reason, "at": self._clock().isoformat()}

        refusal = self._refusal_without_io(sms, seg.parts)
        if refusal is not None:
            return failed(refusal)
        if self._opt_outs.is_opted_out(sms.to):
            return failed("OPTED_OUT")
        message = OutboundSms(
            job_id=sms.job_id,
            to=sms.to,
            body=sms.body,
            message_type=_MESSAGE_TYPE[sms.priority],  # type: ignore[arg-type]
            parts=seg.parts,
            encoding=seg.encoding,
            origination=sms.origination,
        )
        receipts = "expected" if self._provider.sends_receipts else "none"
        try:
            accepted = self._provider.send(message)
        except PermanentSendError as error:
            return failed(error.code)
        except UnknownOutcomeError as error:
            # Kept as the idempotent result: no redelivery may call the provider again.
            logger.warning(
                "sms outcome unknown; waiting for its delivery receipt",
                extra={"job_id": sms.job_id, "to": mask_phone(sms.to), "code": error.code},
            )
            return {
                **base,
                "status": "UNKNOWN",
                "reason": f"OUTCOME_UNKNOWN:{error.code}",
                "provider": self._provider.name,
                "receipts": receipts,
                "at": self._clock().isoformat(),
            }
        except RetryableSendError as error:
            raise RetryLater(error.code, error.detail) from error
        logger.info(
            "sms sent",
            extra={
                "job_id": sms.job_id,
                "to": mask_phone(sms.to),
                "parts": seg.parts,
                "provider_message_id": accepted.message_id,
            },
        )
        return {
            **base,
            "status": "SENT",
            "provider": accepted.provider,
            "provider_message_id": accepted.message_id,
            "receipts": receipts,
            "at": self._clock().isoformat(),
        }

    def _fail_before_send(self, job: SmsJob, now: datetime, reason: str) -> DeliveryOutcome:
        seg = segment(job.body)
        result = {"status": "FAILED", "reason": reason, "parts": seg.parts, "at": now.isoformat()}
        self._record(job, {**result, "encoding": seg.encoding})
        return DeliveryOutcome(job.job_id, "FAILED", reason=reason, parts=seg.parts)

    def _record(self, job: SmsJob, result: dict[str, Any]) -> None:
        record_result(self._status, job, result, phone_keys=self._phone_keys)


def record_result(
    status: StatusRecorder,
    job: SmsJob,
    result: dict[str, Any],
    *,
    phone_keys: PhoneKeys | None = None,
    always: dict[str, object] | None = None,
) -> None:
    """Write a send result (`status`, `at`, `parts`, ... as `send` returns it) as its status.

    With `phone_keys` the record carries `phone_key`, the keyed hash of the number that the
    admin console's lookup by number queries (the `by_phone` index); the number itself is
    stored masked only. `always` is written with it whatever the status's rank (the claim that
    completes with this write, courier.sms.job_claims).
    """
    at = datetime.fromisoformat(result["at"])
    status.record(
        StatusChange(
            job_id=job.job_id,
            status=SmsStatus(result["status"]),
            at=at,
            reason=result.get("reason"),
            provider=result.get("provider"),
            provider_message_id=result.get("provider_message_id"),
        ),
        describe={
            "parts": result.get("parts"),
            "encoding": result.get("encoding"),
            "priority": job.priority.value,
            "to_masked": mask_phone(job.to),
            "phone_key": phone_keys.key_of(job.to) if phone_keys is not None else None,
            "country": numbers.country_code(job.to),
            "metadata": dict(job.metadata) or None,
            # "none": the provider sends no receipts here (SNS, sandbox), so SENT is final.
            "delivery_receipts": result.get("receipts"),
            "created_at": at.isoformat(timespec="milliseconds"),
            **status.day_keys(job.job_id, at),
        },
        always=always,
    )
