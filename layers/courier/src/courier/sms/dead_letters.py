"""Dead letters of the SMS queues: what each one is, as an operator may see it, and the ports.

`inspect_dead_letters` lists a dead-letter queue through the `DeadLetterQueue` port (its SQS
adapter is `dead_letter_queues.py`); `describe` turns one message into a `DeadLetter`: failure
code and reason, job id, masked destination, age, receive count; never the number or the text.
Which messages may go back, and moving them, is `dead_letter_redrive.py`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from courier.observability import mask_phone
from courier.sms.delivery import PoisonJob
from courier.sms.queues import DEFERRALS_ATTRIBUTE, FAILURE_ATTRIBUTES

# Left behind by a redrive: why it failed last time, and the deferral count (a fresh start).
DROPPED_ON_REDRIVE = FAILURE_ATTRIBUTES | {DEFERRALS_ATTRIBUTE}
# The code shown for messages the queue's redrive policy moved (they carry no failure attributes).
MAX_RECEIVES = "MAX_RECEIVES"


class QueueKind(StrEnum):
    """The three SMS queues that have a dead-letter queue."""

    TRANSACTIONAL = "transactional"
    BULK = "bulk"
    EVENTS = "events"

    @property
    def holds_receipts(self) -> bool:
        return self is QueueKind.EVENTS


# ------------------------------------------------------------------------------------ ports


@dataclass(frozen=True)
class QueueMessage:
    """One message as the queue adapter received it (body included: it never leaves here)."""

    message_id: str
    body: str
    attributes: Mapping[str, str]  # message attributes with a string value
    sent_at: datetime  # SentTimestamp: the original enqueue time for redrive-policy moves
    receive_count: int  # ApproximateReceiveCount, this inspection's own receive included
    source_arn: str | None = None  # DeadLetterQueueSourceArn, where the service sets it


@dataclass
class MoveReport:
    """What a per-message move did."""

    moved: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # message id -> why


class MoveTaskUnsupported(Exception):
    """The service (an emulator) has no StartMessageMoveTask: move message by message."""


class DeadLetterQueue(Protocol):
    @property
    def source_queue_arn(self) -> str:
        """The queue its messages go back to."""
        ...

    def peek(self, limit: int) -> list[QueueMessage]:
        """Up to `limit` messages, each released again (visible) before this returns."""
        ...

    def depth(self) -> int:
        """Messages in the queue: visible, in flight and delayed (approximate)."""
        ...

    def move_each(self, decide: Callable[[QueueMessage], bool], limit: int) -> MoveReport:
        """Send each message `decide` accepts to the source queue, then delete it here; every
        other message is released untouched."""
        ...

    def start_move_task(self) -> str:
        """Start SQS's server-side move of every message to the source queue; its task handle."""
        ...


# ------------------------------------------------------------------------------------ results


class FrozenModel(BaseModel):
    """Results are values: a later admin page may cache or compare them."""

    model_config = ConfigDict(frozen=True)


class DeadLetter(FrozenModel):
    """One dead-lettered message as an operator sees it: never the full number or the text."""

    message_id: str
    queue: QueueKind
    job_id: str | None
    to_masked: str | None
    failure_code: str
    failure_reason: str
    failed_at: str | None
    source: str | None  # the queue it came from, when recorded
    sent_at: datetime
    age_seconds: int
    receive_count: int
    parse_error: str | None  # why the body is not a valid job/receipt; None when it is


class DeadLetterListing(FrozenModel):
    queue: QueueKind
    letters: list[DeadLetter]
    depth: int  # the queue's approximate size when listed
    complete: bool  # every message in the queue was seen (none beyond the limit)


# ------------------------------------------------------------------------------------ reading


def _decode_object(text: str) -> dict[str, object] | None:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def _text(data: Mapping[str, object] | None, key: str) -> str | None:
    value = data.get(key) if data is not None else None
    return value if isinstance(value, str) and value else None


def _parse_error(kind: QueueKind, body: str) -> str | None:
    """Why the consumer would dead-letter this body again, or None when it parses."""
    from courier.sms.receipts import parse_receipt
    from courier.sms.sqs_consumer import parse_job

    try:
        if kind.holds_receipts:
            parse_receipt(body)
        else:
            parse_job(body)
    except PoisonJob as poison:
        return f"{poison.code}: {poison.detail}"
    return None


def _identify(kind: QueueKind, body: str) -> tuple[str | None, str | None]:
    """(job id, masked destination) from a body, read as leniently as possible."""
    data = _decode_object(body)
    if kind.holds_receipts:
        if data is not None and data.get("Type") == "Notification":
            data = _decode_object(str(data.get("Message", "")))
        context = data.get("context") if data is not None else None
        job_id = _text(context, "job_id") if isinstance(context, dict) else None
        number = _text(data, "destinationPhoneNumber")
    else:
        job_id, number = _text(data, "job_id"), _text(data, "to")
    return job_id, mask_phone(number) if number else None


def describe(kind: QueueKind, message: QueueMessage, now: datetime) -> DeadLetter:
    """The operator's view of one message."""
    job_id, to_masked = _identify(kind, message.body)
    code = message.attributes.get("failure_code")
    if code:
        reason = message.attributes.get("failure_reason", "")
    else:
        code = MAX_RECEIVES
        reason = (
            "no failure attributes: moved by the queue's redrive policy after maxReceiveCount "
            f"receives (ApproximateReceiveCount {message.receive_count})"
        )
    return DeadLetter(
        message_id=message.message_id,
        queue=kind,
        job_id=job_id,
        to_masked=to_masked,
        failure_code=code,
        failure_reason=reason,
        failed_at=message.attributes.get("failed_at"),
        source=message.attributes.get("source_queue") or message.source_arn,
        sent_at=message.sent_at,
        age_seconds=max(0, int((now - message.sent_at).total_seconds())),
        receive_count=message.receive_count,
        parse_error=_parse_error(kind, message.body),
    )


def inspect_dead_letters(
    kind: QueueKind, queue: DeadLetterQueue, *, limit: int = 1000, now: datetime | None = None
) -> DeadLetterListing:
    """What is in a dead-letter queue (every message is left visible)."""
    now = now or datetime.now(UTC)
    depth = queue.depth()
    messages = queue.peek(limit)
    return DeadLetterListing(
        queue=kind,
        letters=[describe(kind, m, now) for m in messages],
        depth=depth,
        complete=len(messages) < limit and len(messages) >= depth,
    )


def redrive_attributes(attributes: Iterable[str]) -> list[str]:
    """The message attributes a redriven message keeps (all but the failure ones)."""
    return [name for name in attributes if name not in DROPPED_ON_REDRIVE]
