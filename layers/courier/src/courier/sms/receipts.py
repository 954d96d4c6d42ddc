"""End User Messaging SMS delivery events: the event model and how a receipt moves a job."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from courier.sms.delivery import PoisonJob
from courier.sms.status import SmsStatus, StatusChange
from courier.validation import describe_problems

# Final events that mean the handset (or, where carriers give no receipt, the carrier) has it.
DELIVERED_EVENTS = frozenset({"TEXT_DELIVERED", "TEXT_SUCCESSFUL"})


class SmsDeliveryEvent(BaseModel):
    """The fields of an End User Messaging SMS event this service uses (others are ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    event_type: str = Field(alias="eventType")
    event_timestamp: int = Field(alias="eventTimestamp", description="Unix epoch milliseconds")
    is_final: bool = Field(alias="isFinal")
    message_id: str = Field(alias="messageId", min_length=1)
    message_status: str | None = Field(default=None, alias="messageStatus")
    message_status_description: str | None = Field(default=None, alias="messageStatusDescription")
    iso_country_code: str | None = Field(default=None, alias="isoCountryCode")
    carrier_name: str | None = Field(default=None, alias="carrierName")
    total_message_parts: int | None = Field(default=None, alias="totalMessageParts")
    total_message_price: float | None = Field(default=None, alias="totalMessagePrice")
    context: dict[str, str] = Field(default_factory=dict)

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.event_timestamp / 1000, tz=UTC)


def parse_receipt(body: str) -> SmsDeliveryEvent:
    """The event from a queue body: raw SNS delivery, or the SNS envelope around it."""
    try:
        data = json.loads(body)
        if isinstance(data, dict) and data.get("Type") == "Notification" and "Message" in data:
            data = json.loads(data["Message"])
    except json.JSONDecodeError as error:
        raise PoisonJob("MALFORMED_JSON", f"receipt is not JSON: {error.msg}") from error
    try:
        return SmsDeliveryEvent.model_validate(data)
    except ValidationError as error:
        problems = describe_problems(error)
        raise PoisonJob("SCHEMA_VIOLATION", problems) from error


class ReceiptStore(Protocol):
    def record(
        self, change: StatusChange, *, describe: dict[str, object] | None = None
    ) -> bool: ...


def status_change_for(event: SmsDeliveryEvent, job_id: str) -> StatusChange:
    """What a receipt means: DELIVERED, FAILED with the carrier's reason, or still SENT."""
    details: dict[str, Any] = {"carrier_event": event.event_type}
    if event.carrier_name:
        details["carrier_name"] = event.carrier_name
    if event.total_message_price is not None:
        details["price"] = event.total_message_price
    if not event.is_final:
        status, reason = SmsStatus.SENT, None
    elif event.event_type in DELIVERED_EVENTS:
        status, reason = SmsStatus.DELIVERED, None
    else:
        status = SmsStatus.FAILED
        reason = event.event_type + (
            f": {event.message_status_description}" if event.message_status_description else ""
        )
    return StatusChange(
        job_id=job_id,
        status=status,
        at=event.at,
        reason=reason,
        provider_message_id=event.message_id,
        details=details,
    )


def job_id_of(event: SmsDeliveryEvent) -> str:
    """The job a receipt is about: the `job_id` the sender put in the message's Context.

    Every message this service sends carries it (End User Messaging returns the Context in each
    event), so a receipt without one was not sent by a Courier sender (another tool sharing the
    configuration set): it goes to the dead-letter queue with this reason instead of being
    looked up. No index by provider message id is kept for it: that index cost a write on every
    job to serve receipts that do not occur.
    """
    job_id = event.context.get("job_id")
    if not job_id:
        raise PoisonJob(
            "NO_JOB_CONTEXT", f"receipt for provider message {event.message_id} names no job_id"
        )
    return job_id


def apply_receipt(event: SmsDeliveryEvent, store: ReceiptStore) -> bool:
    """Record the receipt; False when it was a duplicate or older than what the record holds."""
    return store.record(status_change_for(event, job_id_of(event)))
