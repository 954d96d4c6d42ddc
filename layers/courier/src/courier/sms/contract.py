"""The public `SmsJob` v1 contract producers put on the SMS queues (JSON Schema in schemas/)."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

SCHEMA_VERSION: Final = 1
JOB_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"
# A sender ID (3-11 alphanumerics), a phone number, a short code, or an End User Messaging ARN/ID.
ORIGINATION_PATTERN = r"^[A-Za-z0-9_:/+.-]{1,256}$"
MAX_BODY_CHARS = 1600
MAX_METADATA_BYTES = 2048
MAX_METADATA_KEYS = 32

MetadataValue = str | int | float | bool | None


class Priority(StrEnum):
    """Which queue a job rides: one-time codes never wait behind a campaign."""

    TRANSACTIONAL = "transactional"
    BULK = "bulk"


class SmsJob(BaseModel):
    """One text message to send, exactly once, to one phone number."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="SmsJob",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://courier.example/schemas/sms-job.v1.schema.json",
            "description": "One SMS job put on the Courier SMS queues (version 1).",
        },
    )

    schema_version: Literal[1] = Field(
        default=SCHEMA_VERSION,
        description="Contract version; consumers reject versions they do not know.",
    )
    job_id: Annotated[str, StringConstraints(pattern=JOB_ID_PATTERN)] = Field(
        description="Producer-chosen idempotency key: the same job_id is never sent twice."
    )
    to: Annotated[str, StringConstraints(pattern=E164_PATTERN)] = Field(
        description="Destination phone number in E.164 form, e.g. +821012345678."
    )
    body: Annotated[str, StringConstraints(min_length=1, max_length=MAX_BODY_CHARS)] = Field(
        description="Message text; GSM-7 or UCS-2 parts are computed by the sender."
    )
    origination: Annotated[str, StringConstraints(pattern=ORIGINATION_PATTERN)] | None = Field(
        default=None,
        description="Sender ID, origination number or pool; the deployment default when absent.",
    )
    priority: Priority = Field(
        default=Priority.TRANSACTIONAL, description="Queue and message type."
    )
    send_at: AwareDatetime | None = Field(
        default=None, description="Earliest send time (ISO 8601 with offset); now when absent."
    )
    metadata: dict[str, MetadataValue] = Field(
        default_factory=dict,
        description=f"Free-form values echoed into status records (at most {MAX_METADATA_BYTES} "
        f"bytes of JSON, {MAX_METADATA_KEYS} keys).",
        json_schema_extra={"maxProperties": MAX_METADATA_KEYS},
    )

    @field_validator("send_at", mode="before")
    @classmethod
    def _iso_text_only(cls, value: object) -> object:
        # The schema says an RFC 3339 string; pydantic alone would also take epoch numbers.
        if value is not None and not isinstance(value, (str, datetime)):
            raise ValueError("send_at must be an ISO 8601 date-time string with an offset")
        return value

    @field_validator("metadata")
    @classmethod
    def _bounded_metadata(cls, value: dict[str, MetadataValue]) -> dict[str, MetadataValue]:
        if len(value) > MAX_METADATA_KEYS:
            raise ValueError(f"metadata has more than {MAX_METADATA_KEYS} keys")
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is {size} bytes of JSON, more than {MAX_METADATA_BYTES}")
        return value

    def due_in_seconds(self, now: datetime) -> float:
        """Seconds until the job may be sent (0 when it is due)."""
        if self.send_at is None:
            return 0.0
        return max(0.0, (self.send_at - now).total_seconds())


def sms_job_json_schema() -> dict[str, object]:
    """The JSON Schema committed under schemas/ for producers in other languages."""
    return SmsJob.model_json_schema(mode="validation")
