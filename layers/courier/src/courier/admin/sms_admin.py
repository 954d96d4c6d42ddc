"""SMS operations for the admin console: redrive dead letters, edit the opt-out list.

Each change returns what it changed (before and after) for the audit log. The redrive is the
`sms dlq` CLI's (courier.sms.dead_letter_redrive: plan, then apply), not a second one; a dry run
changes nothing and is not audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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


class NotOptedOut(LookupError):
    """The number is not on the opt-out list."""


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
