"""Delivers one validated SmsJob exactly once: opt-out, number check, rate limit, send, status.

The provider call sits inside a Powertools idempotent function keyed on `job_id`, so a job that
SQS delivers twice (or a producer sends twice) reaches the provider once. The crash window that
remains: if the process dies after the provider accepted the message but before the idempotency
record is marked COMPLETED, the record stays INPROGRESS until its in-progress expiry (the
invocation's remaining time) and a later redelivery sends again. The provider `Context` carries
`job_id`, so such a duplicate can be traced in the delivery receipts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from courier.observability import logger, mask_phone
from courier.rate_limit import RateLimiter, RateLimitExceeded
from courier.sms import numbers
from courier.sms.contract import Priority, SmsJob
from courier.sms.providers import (
    OutboundSms,
    PermanentSendError,
    RetryableSendError,
    SmsProvider,
)
from courier.sms.segments import segment
from courier.sms.status import SmsStatus, StatusChange

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext


class RetryLater(Exception):
    """A transient failure: hand the record back to the queue to be tried again."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


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
    status: str  # SENT | FAILED | DEFERRED
    reason: str | None = None
    provider_message_id: str | None = None
    parts: int = 0
    deduplicated: bool = False
    defer_seconds: float = 0.0


class OptOuts(Protocol):
    def is_opted_out(self, phone_number: str) -> bool: ...


class StatusRecorder(Protocol):
    def record(
        self, change: StatusChange, *, describe: dict[str, object] | None = None
    ) -> bool: ...

    def day_shard_keys(self, job_id: str, at: datetime) -> dict[str, str]: ...


_MESSAGE_TYPE = {Priority.TRANSACTIONAL: "TRANSACTIONAL", Priority.BULK: "PROMOTIONAL"}


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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
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
        self._config = IdempotencyConfig(
            event_key_jmespath="job_id",
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
            key_prefix="courier.sms.job",
        )

    def register_lambda_context(self, context: LambdaContext) -> None:
        """Lets in-progress idempotency records expire with the invocation that wrote them."""
        self._config.register_lambda_context(context)

    @staticmethod
    def _mark_replayed(response: Any, idempotent_data: DataRecord) -> Any:
        return {**response, "deduplicated": True}

    def deliver(self, job: SmsJob) -> DeliveryOutcome:
        """Send `job` unless already sent; raise RetryLater or PoisonJob when it cannot be."""
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
        try:
            result = self._send_once(job=job.model_dump(mode="json"))
        except IdempotencyValidationError as error:
            raise PoisonJob(
                "JOB_ID_REUSED", "job_id was seen before with another to/body"
            ) from error
        except IdempotencyAlreadyInProgressError as error:
            raise RetryLater("IN_PROGRESS", "another delivery of this job is running") from error
        except IdempotencyPersistenceLayerError as error:
            raise RetryLater("IDEMPOTENCY_STORE", str(error)) from error
        outcome = DeliveryOutcome(
            job_id=job.job_id,
            status=result["status"],
            reason=result.get("reason"),
            provider_message_id=result.get("provider_message_id"),
            parts=result.get("parts", 0),
            deduplicated=result.get("deduplicated", False),
        )
        # Written on replays too: a crash after the send but before this write is healed by the
        # redelivery, which gets the saved result instead of calling the provider again.
        self._record(job, result)
        return outcome

    def _send(self, job: dict[str, Any]) -> dict[str, Any]:
        """Runs at most once per job_id (until it raises, which frees the key for a retry)."""
        sms = SmsJob.model_validate(job)
        seg = segment(sms.body)
        base = {"parts": seg.parts, "encoding": seg.encoding}

        def failed(reason: str) -> dict[str, Any]:
            logger.info(
                "sms failed permanently",
                extra={"job_id": sms.job_id, "to": mask_phone(sms.to), "reason": reason},
            )
            return {**base, "status": "FAILED", "reason": reason, "at": self._clock().isoformat()}

        if not numbers.is_valid_number(sms.to):
            return failed("INVALID_NUMBER")
        if seg.parts > self._max_parts:
            return failed("TOO_MANY_PARTS")
        if self._opt_outs.is_opted_out(sms.to):
            return failed("OPTED_OUT")
        try:
            self._limiter.acquire(seg.parts)
        except RateLimitExceeded as error:
            raise RetryLater("RATE_LIMITED", str(error)) from error
        message = OutboundSms(
            job_id=sms.job_id,
            to=sms.to,
            body=sms.body,
            message_type=_MESSAGE_TYPE[sms.priority],  # type: ignore[arg-type]
            parts=seg.parts,
            encoding=seg.encoding,
            origination=sms.origination,
        )
        try:
            accepted = self._provider.send(message)
        except PermanentSendError as error:
            return failed(error.code)
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
            "at": self._clock().isoformat(),
        }

    def _fail_before_send(self, job: SmsJob, now: datetime, reason: str) -> DeliveryOutcome:
        seg = segment(job.body)
        result = {"status": "FAILED", "reason": reason, "parts": seg.parts, "at": now.isoformat()}
        self._record(job, {**result, "encoding": seg.encoding})
        return DeliveryOutcome(job.job_id, "FAILED", reason=reason, parts=seg.parts)

    def _record(self, job: SmsJob, result: dict[str, Any]) -> None:
        record_result(self._status, job, result)


def record_result(status: StatusRecorder, job: SmsJob, result: dict[str, Any]) -> None:
    """Write a send result (`status`, `at`, `parts`, ... as `send` returns it) as its status."""
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
            "country": numbers.country_code(job.to),
            "metadata": dict(job.metadata) or None,
            "created_at": at.isoformat(timespec="milliseconds"),
            **status.day_shard_keys(job.job_id, at),
        },
    )
