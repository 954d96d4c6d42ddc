"""Redriving dead letters: which may go back to their queue (the plan), and moving them.

`plan_redrive` decides, message by message, what a redrive would do (a dry run is the plan
alone); `apply_redrive` carries a plan out. The queue and the tables are ports
(`DeadLetterQueue`, `JobHistory`): `dead_letter_queues.py` and `job_records.py` are their AWS
adapters, and the `sms dlq` CLI (or an admin page) only wires them.

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

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Literal, Protocol

from courier.sms.dead_letters import (
    DeadLetter,
    DeadLetterQueue,
    FrozenModel,
    MoveTaskUnsupported,
    QueueKind,
    QueueMessage,
    describe,
    inspect_dead_letters,
)
from courier.sms.status import SmsStatus

if TYPE_CHECKING:
    from courier.settings import Settings

# Jobs the provider has, or may have: never sent again without --force.
SENT_STATUSES = frozenset({SmsStatus.SENT, SmsStatus.DELIVERED, SmsStatus.UNKNOWN})


class Refusal(StrEnum):
    UNPARSEABLE = "UNPARSEABLE"
    WRONG_SOURCE = "WRONG_SOURCE"
    ALREADY_SENT = "ALREADY_SENT"
    ALREADY_DELIVERED = "ALREADY_DELIVERED"
    ALREADY_UNKNOWN = "ALREADY_UNKNOWN"
    IDEMPOTENCY_EXPIRED = "IDEMPOTENCY_EXPIRED"


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


def redrive_rules(settings: Settings, *, margin_hours: float = 24.0) -> RedriveRules:
    """The rules with the senders' idempotency TTL (the `sms dlq` CLI and the admin API)."""
    return RedriveRules(
        idempotency_ttl=timedelta(seconds=settings.sms_idempotency_ttl_seconds),
        margin=timedelta(hours=margin_hours),
    )


class PlannedMessage(FrozenModel):
    """A dead letter with what a redrive does to it."""

    letter: DeadLetter
    action: Literal["redrive", "refused"]
    refusal: Refusal | None = None
    refusal_detail: str | None = None
    forced: bool = False  # refused, but --force moves it anyway
    job_status: SmsStatus | None = None
    idempotency_expires_at: datetime | None = None


class Selection(FrozenModel):
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


class RedrivePlan(FrozenModel):
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


class RedriveResult(FrozenModel):
    plan: RedrivePlan
    method: Literal["message-move-task", "per-message", "nothing"]
    moved: list[str]  # message ids sent back (for a move task: started, moved by SQS)
    refused_now: list[PlannedMessage]  # eligible in the plan, refused when re-checked
    failed: dict[str, str]
    vanished: list[str]  # planned but gone from the queue (another redrive, retention)
    task_handle: str | None = None
    fallback_reason: str | None = None  # why a whole-queue redrive went message by message


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
