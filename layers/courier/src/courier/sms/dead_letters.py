"""Dead letters of the SMS queues: what each one is, whether it may go back, and the redrive.

`inspect_dead_letters` lists a dead-letter queue; `plan_redrive` decides, message by message,
what a redrive would do (a dry run is the plan alone); `apply_redrive` carries a plan out. The
queue and the tables are ports (`DeadLetterQueue`, `JobHistory`): `dead_letter_queues.py` and
`job_records.py` are their AWS adapters, and the `sms dlq` CLI (or an admin page) only wires them.

A job goes back only when sending it cannot send it twice:
- its status record says SENT, DELIVERED or UNKNOWN (the provider has or may have it):
  refused `ALREADY_<STATUS>`;
- its idempotency record has expired or expires within `margin` (the redriven job could be
  processed after the record is gone, and then sent again): refused `IDEMPOTENCY_EXPIRED`. With
  no record, the message's age decides: a job first queued more than TTL - margin ago may have
  had a record that is gone by now;
- its body does not parse: refused `UNPARSEABLE` (it would only be dead-lettered again);
- the message came from another queue than the one it would be sent to: `WRONG_SOURCE`.
`force` overrides every refusal (the message is marked `forced`). Receipts (the events queue)
are applied by rank and time, so replaying one is harmless: only `UNPARSEABLE` and
`WRONG_SOURCE` apply to them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from courier.observability import mask_phone
from courier.sms.delivery import PoisonJob
from courier.sms.queues import DEFERRALS_ATTRIBUTE
from courier.sms.status import SmsStatus

# Set by the senders when they dead-letter a message themselves (courier.sms.queues.dead_letter).
FAILURE_ATTRIBUTES = frozenset(
    {"failure_code", "failure_reason", "source_queue", "source_message_id", "failed_at"}
)
# Left behind by a redrive: why it failed last time, and the deferral count (a fresh start).
DROPPED_ON_REDRIVE = FAILURE_ATTRIBUTES | {DEFERRALS_ATTRIBUTE}
# The code shown for messages the queue's redrive policy moved (they carry no failure attributes).
MAX_RECEIVES = "MAX_RECEIVES"
# Jobs the provider has, or may have: never sent again without --force.
SENT_STATUSES = frozenset({SmsStatus.SENT, SmsStatus.DELIVERED, SmsStatus.UNKNOWN})


class QueueKind(StrEnum):
    """The three SMS queues that have a dead-letter queue."""

    TRANSACTIONAL = "transactional"
    BULK = "bulk"
    EVENTS = "events"

    @property
    def holds_receipts(self) -> bool:
        return self is QueueKind.EVENTS


class Refusal(StrEnum):
    UNPARSEABLE = "UNPARSEABLE"
    WRONG_SOURCE = "WRONG_SOURCE"
    ALREADY_SENT = "ALREADY_SENT"
    ALREADY_DELIVERED = "ALREADY_DELIVERED"
    ALREADY_UNKNOWN = "ALREADY_UNKNOWN"
    IDEMPOTENCY_EXPIRED = "IDEMPOTENCY_EXPIRED"


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


@dataclass(frozen=True)
class JobFacts:
    """What the tables know of a job: its status, and when its idempotency record expires."""

    status: SmsStatus | None
    idempotency_expires_at: datetime | None  # None: no record


class JobHistory(Protocol):
    def facts(self, job_id: str) -> JobFacts: ...


@dataclass(frozen=True)
class RedriveRules:
    """The idempotency TTL the senders use, and how long before its end a redrive stops."""

    idempotency_ttl: timedelta
    # A redriven job may wait in its queue (a sender outage) before it is processed.
    margin: timedelta = timedelta(days=1)


# ------------------------------------------------------------------------------------ results


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class DeadLetter(_Model):
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


class PlannedMessage(_Model):
    """A dead letter with what a redrive does to it."""

    letter: DeadLetter
    action: Literal["redrive", "refused"]
    refusal: Refusal | None = None
    refusal_detail: str | None = None
    forced: bool = False  # refused, but --force moves it anyway
    job_status: SmsStatus | None = None
    idempotency_expires_at: datetime | None = None


class Selection(_Model):
    """Which dead letters a redrive is about: all, some message ids, or some failure codes."""

    all: bool = False
    message_ids: frozenset[str] = frozenset()
    failure_codes: frozenset[str] = frozenset()

    def matches(self, letter: DeadLetter) -> bool:
        return (
            self.all
            or letter.message_id in self.message_ids
            or letter.failure_code in self.failure_codes
        )


class DeadLetterListing(_Model):
    queue: QueueKind
    letters: list[DeadLetter]
    depth: int  # the queue's approximate size when listed
    complete: bool  # every message in the queue was seen (none beyond the limit)


class RedrivePlan(_Model):
    queue: QueueKind
    selection: Selection
    force: bool
    planned_at: datetime
    messages: list[PlannedMessage]  # the selected ones only
    not_found: list[str]  # selected message ids that are not in the queue
    unselected: int  # messages seen but not selected
    complete: bool

    @property
    def to_move(self) -> list[PlannedMessage]:
        return [m for m in self.messages if m.action == "redrive"]

    @property
    def refused(self) -> list[PlannedMessage]:
        return [m for m in self.messages if m.action == "refused"]

    @property
    def moves_whole_queue(self) -> bool:
        """Every message in the queue goes back: SQS's own move task can do it server-side."""
        return bool(self.complete and self.to_move and not self.refused and not self.unselected)


class RedriveResult(_Model):
    plan: RedrivePlan
    method: Literal["message-move-task", "per-message", "nothing"]
    moved: list[str]  # message ids sent back (for a move task: started, moved by SQS)
    refused_now: list[PlannedMessage]  # eligible in the plan, refused when re-checked
    failed: dict[str, str]
    vanished: list[str]  # planned but gone from the queue (another redrive, retention)
    task_handle: str | None = None
    fallback_reason: str | None = None  # why a whole-queue redrive went message by message


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


# ------------------------------------------------------------------------------------ planning


def _judge(
    kind: QueueKind,
    letter: DeadLetter,
    *,
    source_queue_arn: str,
    history: JobHistory,
    rules: RedriveRules,
    force: bool,
    now: datetime,
) -> PlannedMessage:
    refusal: tuple[Refusal, str] | None = None
    facts = JobFacts(status=None, idempotency_expires_at=None)
    if letter.parse_error is not None:
        refusal = (Refusal.UNPARSEABLE, f"{letter.parse_error}; it would be dead-lettered again")
    elif letter.source and letter.source != source_queue_arn:
        refusal = (Refusal.WRONG_SOURCE, f"came from {letter.source}, not {source_queue_arn}")
    elif not kind.holds_receipts and letter.job_id is not None:
        facts = history.facts(letter.job_id)
        refusal = _job_refusal(letter, facts, rules, now)
    if refusal is None:
        return PlannedMessage(
            letter=letter,
            action="redrive",
            job_status=facts.status,
            idempotency_expires_at=facts.idempotency_expires_at,
        )
    return PlannedMessage(
        letter=letter,
        action="redrive" if force else "refused",
        refusal=refusal[0],
        refusal_detail=refusal[1],
        forced=force,
        job_status=facts.status,
        idempotency_expires_at=facts.idempotency_expires_at,
    )


def _job_refusal(
    letter: DeadLetter, facts: JobFacts, rules: RedriveRules, now: datetime
) -> tuple[Refusal, str] | None:
    if facts.status in SENT_STATUSES:
        return (
            Refusal(f"ALREADY_{facts.status}"),
            f"the status table says {facts.status}: the provider has or may have it",
        )
    horizon = now + rules.margin
    expires = facts.idempotency_expires_at
    if expires is not None:
        if expires <= horizon:
            return (
                Refusal.IDEMPOTENCY_EXPIRED,
                f"its idempotency record expires at {expires.isoformat(timespec='seconds')}, "
                f"within {rules.margin} of now",
            )
    elif letter.sent_at + rules.idempotency_ttl <= horizon:
        return (
            Refusal.IDEMPOTENCY_EXPIRED,
            f"queued {letter.age_seconds // 86400} days ago and no idempotency record: one "
            f"written then may have expired (TTL {rules.idempotency_ttl})",
        )
    return None


def plan_redrive(
    kind: QueueKind,
    queue: DeadLetterQueue,
    history: JobHistory,
    rules: RedriveRules,
    selection: Selection,
    *,
    force: bool = False,
    limit: int = 1000,
    now: datetime | None = None,
) -> RedrivePlan:
    """What redriving `selection` would do; nothing moves (the messages stay visible)."""
    now = now or datetime.now(UTC)
    listing = inspect_dead_letters(kind, queue, limit=limit, now=now)
    chosen = [letter for letter in listing.letters if selection.matches(letter)]
    seen = {letter.message_id for letter in listing.letters}
    return RedrivePlan(
        queue=kind,
        selection=selection,
        force=force,
        planned_at=now,
        messages=[
            _judge(
                kind,
                letter,
                source_queue_arn=queue.source_queue_arn,
                history=history,
                rules=rules,
                force=force,
                now=now,
            )
            for letter in chosen
        ],
        not_found=sorted(selection.message_ids - seen),
        unselected=len(listing.letters) - len(chosen),
        complete=listing.complete,
    )


# ------------------------------------------------------------------------------------ applying


def apply_redrive(
    plan: RedrivePlan,
    queue: DeadLetterQueue,
    history: JobHistory,
    rules: RedriveRules,
    *,
    limit: int = 1000,
    now: datetime | None = None,
) -> RedriveResult:
    """Carry out `plan`: SQS's move task when the whole queue goes back and nothing is refused,
    else each planned message is checked again, sent to the source queue and only then deleted."""
    wanted = {m.letter.message_id for m in plan.to_move}
    if not wanted:
        return RedriveResult(
            plan=plan, method="nothing", moved=[], refused_now=[], failed={}, vanished=[]
        )
    fallback = None
    if plan.moves_whole_queue:
        depth = queue.depth()
        if depth == len(wanted):
            try:
                handle = queue.start_move_task()
            except MoveTaskUnsupported as unsupported:
                fallback = f"no message move task here ({unsupported})"
            else:
                return RedriveResult(
                    plan=plan,
                    method="message-move-task",
                    moved=sorted(wanted),
                    refused_now=[],
                    failed={},
                    vanished=[],
                    task_handle=handle,
                )
        else:
            fallback = f"the queue holds {depth} messages now, {len(wanted)} when planned"

    now = now or datetime.now(UTC)
    refused_now: list[PlannedMessage] = []
    considered: set[str] = set()

    def decide(message: QueueMessage) -> bool:
        if message.message_id not in wanted:
            return False
        considered.add(message.message_id)
        # The job may have been sent since the plan (a duplicate of it, another redrive).
        judged = _judge(
            plan.queue,
            describe(plan.queue, message, now),
            source_queue_arn=queue.source_queue_arn,
            history=history,
            rules=rules,
            force=plan.force,
            now=now,
        )
        if judged.action == "refused":
            refused_now.append(judged)
            return False
        return True

    report = queue.move_each(decide, limit)
    return RedriveResult(
        plan=plan,
        method="per-message",
        moved=sorted(report.moved),
        refused_now=refused_now,
        failed=report.failed,
        vanished=sorted(wanted - considered),
        fallback_reason=fallback,
    )


def redrive_attributes(attributes: Iterable[str]) -> list[str]:
    """The message attributes a redriven message keeps (all but the failure ones)."""
    return [name for name in attributes if name not in DROPPED_ON_REDRIVE]
