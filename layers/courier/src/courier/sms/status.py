"""What the pipeline knows about each job: the status values and the record read back by callers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class SmsStatus(StrEnum):
    SENT = "SENT"
    # The provider may or may not have the message (its answer was lost): never sent again;
    # the delivery receipt, which carries the job id, moves it to DELIVERED or FAILED.
    UNKNOWN = "UNKNOWN"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


# Later stages win; within a stage the later event wins. Receipts may arrive before the
# sender has written SENT, or twice, or out of order: the rank makes every write commutative.
STATUS_RANK = {
    SmsStatus.SENT: 1,
    SmsStatus.UNKNOWN: 1,
    SmsStatus.DELIVERED: 2,
    SmsStatus.FAILED: 2,
}


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One transition to record for a job."""

    job_id: str
    status: SmsStatus
    at: datetime
    reason: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A job's status as stored (numbers masked, no body)."""

    job_id: str
    status: SmsStatus
    status_at: datetime
    reason: str | None
    provider: str | None
    provider_message_id: str | None
    parts: int | None
    encoding: str | None
    priority: str | None
    to_masked: str | None
    country: str | None
    metadata: dict[str, object]
    day: str | None
    delivery_receipts: str | None = None
    # When the sender first recorded the job (its send or refusal); a record a receipt created
    # before the sender wrote has none until the sender's write adds it.
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobSummary:
    """One job of a lookup by number: the latest status and the record's times, number masked.

    The table keeps the latest status per job, not every transition: `created_at` is when the
    sender recorded its outcome, `status_at` when the current status was recorded.
    """

    job_id: str
    status: SmsStatus
    status_at: datetime
    created_at: datetime | None
    priority: str | None
    to_masked: str | None
    reason: str | None
    delivery_receipts: str | None


@dataclass(frozen=True, slots=True)
class PhoneJobsPage:
    """A page of a number's jobs, newest first; `last_sk_time` positions the next page."""

    jobs: list[JobSummary]
    last_sk_time: str | None
