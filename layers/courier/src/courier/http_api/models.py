"""Response bodies of the HTTP API (they are what the OpenAPI document describes)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from courier.sms.producer import JobResult
from courier.sms.status import JobRecord
from courier.stats.history import Group, PeriodTotals
from courier.stats.report import SmsNumbers, TopRoom

if TYPE_CHECKING:
    from courier.chat.access import IssuedTicket


class JobErrorOut(BaseModel):
    code: str
    reason: str


class JobResultOut(BaseModel):
    """What happened to one submitted job, at the same position as in the request."""

    index: int
    job_id: str | None
    status: Literal["queued", "valid", "invalid", "failed"]
    queue: str | None = None
    message_id: str | None = None
    error: JobErrorOut | None = None
    attempts: int = 0
    encoding: str | None = None
    parts: int | None = None

    @classmethod
    def of(cls, result: JobResult) -> JobResultOut:
        return cls.model_validate(result.to_dict())


class SubmitResponse(BaseModel):
    jobs: int = Field(description="Jobs in the request.")
    queued: int = Field(description="Jobs put on a queue.")
    failed: int = Field(description="Jobs the queue did not take (safe to resubmit).")
    results: list[JobResultOut]


class SubmitFailed(SubmitResponse):
    """502: some jobs were not queued; resubmitting the request is safe (job_id is the key)."""

    code: str
    message: str


class JobStatusOut(BaseModel):
    """A job's status record: the number masked, never the body."""

    job_id: str
    status: str
    status_at: datetime
    reason: str | None = None
    provider: str | None = None
    provider_message_id: str | None = None
    parts: int | None = None
    encoding: str | None = None
    priority: str | None = None
    to_masked: str | None = None
    country: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    day: str | None = None
    delivery_receipts: str | None = Field(
        default=None,
        description="'expected': a receipt moves SENT/UNKNOWN on; 'none': SENT is final",
    )

    @classmethod
    def of(cls, record: JobRecord) -> JobStatusOut:
        return cls(
            job_id=record.job_id,
            status=record.status.value,
            status_at=record.status_at,
            reason=record.reason,
            provider=record.provider,
            provider_message_id=record.provider_message_id,
            parts=record.parts,
            encoding=record.encoding,
            priority=record.priority,
            to_masked=record.to_masked,
            country=record.country,
            metadata=dict(record.metadata),
            day=record.day,
            delivery_receipts=record.delivery_receipts,
        )


class ChatNumbersOut(BaseModel):
    messages: int
    active_users: int
    active_rooms: int
    by_room: dict[str, int] | None = Field(
        default=None, description="Absent when the day had too many rooms (see the reports)."
    )
    by_room_in_reports_only: bool | None = None
    top_rooms: list[TopRoom]


class StatsOut(BaseModel):
    """One day's numbers as the stats batch stored them (the DailyStats item)."""

    model_config = ConfigDict(extra="ignore")

    schema_version: int
    date: str
    timezone: str
    summary: str
    sms: SmsNumbers
    chat: ChatNumbersOut


class StatsRangeOut(BaseModel):
    """A range of the stats history, summed per day, ISO week or calendar month."""

    first: str = Field(alias="from", description="The range's first day (YYYY-MM-DD).")
    last: str = Field(alias="to", description="The range's last day, inclusive.")
    group: Group = Field(description="day, week (ISO, Monday to Sunday) or month.")
    timezone: str = Field(description="The service timezone the days are counted in.")
    periods: list[PeriodTotals] = Field(
        description="Periods holding at least one stored day, oldest first. A period cut by the "
        "range sums only its days inside it (first_day, last_day, days); start and end are its "
        "whole calendar bounds. peak_* are the busiest day's distinct counts; the ratios are "
        "computed from the sums (null without jobs)."
    )


class ChatTicketOut(BaseModel):
    """A single-use connect ticket: the WebSocket URL carries it as `?ticket=`."""

    ticket: str = Field(description="Opaque; opens one WebSocket connection.")
    expires_at: datetime = Field(description="Unusable from this time on.")
    expires_in: int = Field(description="Seconds left to connect with it.")

    @classmethod
    def of(cls, issued: IssuedTicket) -> ChatTicketOut:
        return cls(ticket=issued.ticket, expires_at=issued.expires_at, expires_in=issued.expires_in)
