"""The admin audit log against the private MariaDB server: append, pages, filters, routing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from courier.admin.audit import AuditActor, AuditFilters, AuditLog
from courier.admin.audit_store import INSERT_ENTRY, MySqlAuditStore
from courier.data.connections import Database
from courier.data.errors import ReadOnlyViolation

ALICE = AuditActor(sub="0f6e0c1a-0000-4000-8000-00000000000a", username="alice")
BOB = AuditActor(sub="0f6e0c1a-0000-4000-8000-00000000000b", username="bob")
T0 = datetime(2026, 5, 1, 0, 0, 0, tzinfo=UTC)


class SteppingClock:
    """Each reading is `step` later than the last (so entries have distinct, known times)."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.now = start - step
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@pytest.fixture
def log(database: Database) -> AuditLog:
    return AuditLog(MySqlAuditStore(database), clock=SteppingClock(T0, timedelta(minutes=1)))


def seed(log: AuditLog) -> None:
    # 10 entries a minute apart: alice and bob alternate, actions cycle through three.
    actions = ["sms.redrive", "optout.add", "optout.remove"]
    for i in range(10):
        log.record(
            ALICE if i % 2 == 0 else BOB,
            actions[i % 3],
            f"target-{i}",
            before={"n": i},
            after={"n": i + 1, "note": "한국어 ok"},
            request_id=f"req-{i}",
        )


def test_an_entry_reads_back_as_appended(log: AuditLog) -> None:
    stored = log.record(
        ALICE,
        "optout.add",
        "+8210****5678",
        before=None,
        after={"opted_out": True},
        request_id="abc=",
    )

    page = log.page()

    assert stored.id >= 1
    assert page.entries == [stored]
    entry = page.entries[0]
    assert entry.at == T0
    assert (entry.actor, entry.action, entry.target) == (ALICE, "optout.add", "+8210****5678")
    assert (entry.before, entry.after, entry.request_id) == (None, {"opted_out": True}, "abc=")
    assert page.next_cursor is None


def test_milliseconds_are_kept(database: Database) -> None:
    log = AuditLog(
        MySqlAuditStore(database), clock=lambda: datetime(2026, 5, 1, 1, 2, 3, 456789, tzinfo=UTC)
    )
    log.record(ALICE, "sms.redrive", "job-1")

    assert log.page().entries[0].at == datetime(2026, 5, 1, 1, 2, 3, 456000, tzinfo=UTC)


def test_pages_run_newest_first_and_the_cursor_walks_every_entry_once(log: AuditLog) -> None:
    seed(log)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = log.page(cursor=cursor, limit=3)
        pages += 1
        seen += [e.target for e in page.entries]
        cursor = page.next_cursor
        if cursor is None:
            break

    assert pages == 4
    assert seen == [f"target-{i}" for i in reversed(range(10))]


def test_entries_at_the_same_millisecond_are_ordered_by_id_across_pages(
    database: Database,
) -> None:
    log = AuditLog(MySqlAuditStore(database), clock=lambda: T0)
    for i in range(5):
        log.record(ALICE, "sms.redrive", f"same-{i}")

    first = log.page(limit=2)
    second = log.page(cursor=first.next_cursor, limit=2)
    third = log.page(cursor=second.next_cursor, limit=2)

    targets = [e.target for p in (first, second, third) for e in p.entries]
    assert targets == ["same-4", "same-3", "same-2", "same-1", "same-0"]
    assert third.next_cursor is None


def test_filters_by_actor_action_and_time(log: AuditLog) -> None:
    seed(log)

    by_bob = log.page(AuditFilters(actor="bob"))
    by_sub = log.page(AuditFilters(actor=ALICE.sub))
    redrives = log.page(AuditFilters(action="sms.redrive"))
    optouts = log.page(AuditFilters(action="optout.*"))
    window = log.page(AuditFilters(start=T0 + timedelta(minutes=2), end=T0 + timedelta(minutes=5)))
    combined = log.page(AuditFilters(actor="alice", action="optout.*"))

    assert [e.target for e in by_bob.entries] == [
        "target-9",
        "target-7",
        "target-5",
        "target-3",
        "target-1",
    ]
    assert {e.actor.username for e in by_sub.entries} == {"alice"}
    assert len(by_sub.entries) == 5
    assert [e.target for e in redrives.entries] == ["target-9", "target-6", "target-3", "target-0"]
    assert {e.action for e in optouts.entries} == {"optout.add", "optout.remove"}
    assert len(optouts.entries) == 6
    assert [e.target for e in window.entries] == ["target-4", "target-3", "target-2"]
    assert [e.target for e in combined.entries] == ["target-8", "target-4", "target-2"]


def test_an_action_prefix_is_literal_not_a_pattern(log: AuditLog) -> None:
    log.record(ALICE, "opt_out.add", "a")
    log.record(ALICE, "optxout.add", "b")

    assert [e.target for e in log.page(AuditFilters(action="opt_out.*")).entries] == ["a"]


def test_a_filtered_walk_with_the_cursor_stays_filtered(log: AuditLog) -> None:
    seed(log)

    first = log.page(AuditFilters(actor="alice"), limit=2)
    second = log.page(AuditFilters(actor="alice"), cursor=first.next_cursor, limit=2)

    assert [e.target for e in first.entries + second.entries] == [
        "target-8",
        "target-6",
        "target-4",
        "target-2",
    ]


def test_a_write_through_the_reader_fails(database: Database) -> None:
    with pytest.raises(ReadOnlyViolation), database.read_transaction() as cursor:
        cursor.execute(
            INSERT_ENTRY,
            (T0.replace(tzinfo=None), "s", "u", "sms.redrive", "", None, None, ""),
        )
    # Nothing was written
    assert AuditLog(MySqlAuditStore(database)).page().entries == []
