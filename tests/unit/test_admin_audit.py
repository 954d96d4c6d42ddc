"""The audit log's domain without a database: entries, cursors, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from courier.admin.audit import (
    MAX_STATE_BYTES,
    AuditActor,
    AuditFilters,
    AuditLog,
    AuditPosition,
    BadAuditCursor,
    NewAuditEntry,
)
from courier.admin.identity import AdminIdentity

ACTOR = AuditActor(sub="8f2b0c1e-0000-4000-8000-000000000001", username="alice")
KST = timezone(timedelta(hours=9))


def entry(**changes: object) -> NewAuditEntry:
    values: dict[str, object] = {
        "at": datetime(2026, 5, 1, 9, 0, 0, 123456, tzinfo=KST),
        "actor": ACTOR,
        "action": "optout.add",
        "target": "+8210****5678",
    }
    values.update(changes)
    return NewAuditEntry.model_validate(values)


def test_the_time_is_kept_in_utc_to_the_millisecond() -> None:
    assert entry().at == datetime(2026, 5, 1, 0, 0, 0, 123000, tzinfo=UTC)


@pytest.mark.parametrize("action", ["redrive", "SMS.redrive", "sms.", ".x", "sms redrive"])
def test_an_action_is_a_dotted_lowercase_name(action: str) -> None:
    with pytest.raises(ValidationError):
        entry(action=action)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValidationError, match="time zone"):
        entry(at=datetime(2026, 5, 1, 9, 0))


def test_before_and_after_are_bounded_json() -> None:
    assert entry(before={"opted_out": False}, after={"opted_out": True}).after == {
        "opted_out": True
    }
    with pytest.raises(ValidationError, match="at most"):
        entry(after={"rows": "x" * MAX_STATE_BYTES})
    with pytest.raises(ValidationError, match="JSON"):
        entry(before={"when": object()})


def test_a_cursor_round_trips_and_a_forged_one_is_refused() -> None:
    position = AuditPosition(at=datetime(2026, 5, 1, 0, 0, 0, 123000, tzinfo=UTC), id=42)

    assert AuditPosition.decode(position.encode()) == position
    for bad in ("", "not-base64!", "MTIzOmFiYw", "x" * 100):
        with pytest.raises(BadAuditCursor):
            AuditPosition.decode(bad)


def test_filters_need_zoned_times_in_order() -> None:
    start = datetime(2026, 5, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="before"):
        AuditFilters(start=start, end=start - timedelta(days=1))
    with pytest.raises(ValueError, match="time zone"):
        AuditFilters(start=datetime(2026, 5, 2))


class ListStore:
    def __init__(self) -> None:
        self.appended: list[NewAuditEntry] = []

    def append(self, new: NewAuditEntry):  # type: ignore[no-untyped-def]
        from courier.admin.audit import AuditEntry

        self.appended.append(new)
        return AuditEntry(id=len(self.appended), **new.model_dump())

    def page(self, filters, after, limit):  # type: ignore[no-untyped-def]
        raise AssertionError("not called")


def test_record_stamps_the_time_and_the_actor_of_an_identity() -> None:
    store = ListStore()
    now = datetime(2026, 5, 1, 3, 4, 5, tzinfo=UTC)
    log = AuditLog(store, clock=lambda: now)
    admin = AdminIdentity(sub=ACTOR.sub, username="alice", groups=("admin",))

    stored = log.record(
        admin, "sms.redrive", "job-1", before={"state": "dlq"}, after={"state": "queued"}
    )

    assert stored.id == 1
    assert (stored.at, stored.actor, stored.action, stored.target) == (
        now,
        ACTOR,
        "sms.redrive",
        "job-1",
    )
    assert store.appended[0].before == {"state": "dlq"}


def test_a_page_limit_outside_1_to_200_is_refused() -> None:
    log = AuditLog(ListStore())
    for limit in (0, 201):
        with pytest.raises(ValueError, match="limit"):
            log.page(limit=limit)
