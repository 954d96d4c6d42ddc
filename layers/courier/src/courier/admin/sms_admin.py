"""SMS operations for the admin console: find a number's jobs, redrive dead letters, edit the
opt-out list.

Each change returns what it changed (before and after) for the audit log. The redrive is the
`sms dlq` CLI's (courier.sms.dead_letter_redrive: plan, then apply), not a second one; a dry run
changes nothing and is not audited. Reads (a job, a number's jobs) are not audited: the audit
log records changes only.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from courier.admin.changes import Change
from courier.observability import mask_phone
from courier.sms.dead_letter_redrive import apply_redrive, plan_redrive

if TYPE_CHECKING:
    from courier.sms.dead_letter_redrive import (
        JobHistory,
        RedrivePlan,
        RedriveResult,
        RedriveRules,
        Selection,
    )
    from courier.sms.dead_letters import DeadLetterQueue, QueueKind
    from courier.sms.opt_out import OptOutList
    from courier.sms.phone_keys import PhoneKeys
    from courier.sms.status import JobSummary, PhoneJobsPage


class NotOptedOut(LookupError):
    """The number is not on the opt-out list."""


class BadJobsCursor(ValueError):
    """A cursor that no page of this lookup handed out."""


MAX_JOBS_CURSOR_CHARS = 300  # base64 of `<iso time>#<job_id>` (job ids are at most 128 chars)


class PhoneJobsStore(Protocol):
    def jobs_by_phone_key(
        self, phone_key: str, *, limit: int, before: str | None = None
    ) -> PhoneJobsPage: ...


@dataclass(frozen=True, slots=True)
class PhoneJobs:
    """A page of one number's jobs, newest first (the number masked), and the next page's cursor."""

    to_masked: str
    jobs: list[JobSummary]
    next_cursor: str | None


def jobs_for_phone(
    phone_keys: PhoneKeys, store: PhoneJobsStore, phone: str, *, limit: int, cursor: str | None
) -> PhoneJobs:
    """The jobs sent to `phone` (a valid E.164 number), found by its keyed hash, never by the
    number itself: the records hold it masked only. BadJobsCursor for a cursor not handed out."""
    before = _decode_cursor(cursor) if cursor else None
    page = store.jobs_by_phone_key(phone_keys.key_of(phone), limit=limit, before=before)
    return PhoneJobs(
        to_masked=mask_phone(phone),
        jobs=page.jobs,
        next_cursor=_encode_cursor(page.last_sk_time) if page.last_sk_time else None,
    )


def _encode_cursor(sk_time: str) -> str:
    return base64.urlsafe_b64encode(sk_time.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    """The `sk_time` a page ended at (`<iso time>#<job_id>`)."""
    if len(cursor) > MAX_JOBS_CURSOR_CHARS:
        raise BadJobsCursor("the cursor is too long")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, job_id = text.partition("#")
        datetime.fromisoformat(moment)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadJobsCursor("the cursor is not one a page returned") from None
    if not job_id:
        raise BadJobsCursor("the cursor is not one a page returned")
    return text


@dataclass(frozen=True, slots=True)
class RedriveOutcome:
    plan: RedrivePlan
    result: RedriveResult | None  # None for a dry run
    change: Change | None  # None for a dry run


def redrive(
    kind: QueueKind,
    queue: DeadLetterQueue,
    history: JobHistory,
    rules: RedriveRules,
    selection: Selection,
    *,
    apply: bool,
    force: bool = False,
    limit: int = 1000,
) -> RedriveOutcome:
    """Plan a redrive of `selection` and, with `apply`, carry it out (the CLI's refusals hold)."""
    plan = plan_redrive(kind, queue, history, rules, selection, force=force, limit=limit)
    if not apply:
        return RedriveOutcome(plan=plan, result=None, change=None)
    result = apply_redrive(plan, queue, history, rules, limit=limit)
    before = {
        "selected": sorted(m.letter.message_id for m in plan.messages),
        "to_move": sorted(m.letter.message_id for m in plan.to_move),
        "refused": {m.letter.message_id: m.refusal for m in plan.refused},
        "force": force,
    }
    after = {
        "method": result.method,
        "moved": result.moved,
        "refused_now": [m.letter.message_id for m in result.refused_now],
        "failed": sorted(result.failed),
        "vanished": result.vanished,
        "not_found": plan.not_found,
    }
    return RedriveOutcome(plan=plan, result=result, change=Change(before=before, after=after))


def _opt_out_view(phone: str, entry: dict[str, str] | None) -> dict[str, Any] | None:
    return None if entry is None else {"to": mask_phone(phone), **entry}


def find_opt_out(opt_outs: OptOutList, phone: str) -> dict[str, Any] | None:
    """The number's opt-out (masked number, source, time), or None."""
    return _opt_out_view(phone, opt_outs.entry(phone))


def add_opt_out(opt_outs: OptOutList, phone: str, *, reason: str, admin: str) -> Change:
    """Opt the number out (again, if it already was: the reason and time are renewed)."""
    before = find_opt_out(opt_outs, phone)
    # The table's `source` says who opted the number out; for an admin, who and why.
    opt_outs.opt_out(phone, source=f"admin:{admin}: {reason}")
    after = find_opt_out(opt_outs, phone) or {
        "to": mask_phone(phone),
        "opted_out_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return Change(before=before, after=after)


def remove_opt_out(opt_outs: OptOutList, phone: str) -> Change:
    """Take the number off the list; NotOptedOut (nothing changed) when it is not on it."""
    before = find_opt_out(opt_outs, phone)
    if before is None:
        raise NotOptedOut(f"{mask_phone(phone)} is not opted out")
    opt_outs.opt_in(phone)
    return Change(before=before, after=None)
