"""The admin audit log in Aurora MySQL (MariaDB locally): the `admin_audit_log` table.

Routing: `append` writes through the writer; `page` reads through the reader (an entry just
written may show there a moment later: replica lag). Pages are keyset pages newest first by
(occurred_at, id): the cursor is the last row's pair and the next page starts strictly after
it, written as `occurred_at < t OR (occurred_at = t AND id < i)` (both servers optimise that;
a row-constructor comparison is not used as a range on MySQL 8.0).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from courier.admin.audit import (
    AuditActor,
    AuditEntry,
    AuditFilters,
    AuditPosition,
    NewAuditEntry,
    state_json,
)

if TYPE_CHECKING:
    from courier.data.connections import Database

INSERT_ENTRY = (
    "INSERT INTO admin_audit_log (occurred_at, actor_sub, actor_username, action, target, "
    "before_state, after_state, request_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
_SELECT = (
    "SELECT id, occurred_at, actor_sub, actor_username, action, target, before_state, "
    "after_state, request_id FROM admin_audit_log"
)


def _naive_utc(moment: datetime) -> datetime:
    """A DATETIME column's value: UTC without tzinfo (PyMySQL would drop the zone anyway)."""
    return moment.astimezone(UTC).replace(tzinfo=None)


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _where(filters: AuditFilters, after: AuditPosition | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    values: list[Any] = []
    if filters.actor:
        clauses.append("(actor_username = %s OR actor_sub = %s)")
        values += [filters.actor, filters.actor]
    if filters.action:
        if filters.action.endswith(".*"):
            clauses.append("action LIKE %s")
            values.append(_like_prefix(filters.action[:-1]))
        else:
            clauses.append("action = %s")
            values.append(filters.action)
    if filters.start:
        clauses.append("occurred_at >= %s")
        values.append(_naive_utc(filters.start))
    if filters.end:
        clauses.append("occurred_at < %s")
        values.append(_naive_utc(filters.end))
    if after:
        at = _naive_utc(after.at)
        clauses.append("(occurred_at < %s OR (occurred_at = %s AND id < %s))")
        values += [at, at, after.id]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", values


def _document(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(value) if isinstance(value, str | bytes) else value


def _entry(row: dict[str, Any]) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["occurred_at"].replace(tzinfo=UTC),
        actor=AuditActor(sub=row["actor_sub"], username=row["actor_username"]),
        action=row["action"],
        target=row["target"],
        before=_document(row["before_state"]),
        after=_document(row["after_state"]),
        request_id=row["request_id"],
    )


class MySqlAuditStore:
    """The `admin_audit_log` table through the routing `Database`."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def append(self, entry: NewAuditEntry) -> AuditEntry:
        """Insert one entry (writer); the entry with the id the table gave it."""
        with self._database.write_transaction() as cursor:
            cursor.execute(
                INSERT_ENTRY,
                (
                    _naive_utc(entry.at),
                    entry.actor.sub,
                    entry.actor.username,
                    entry.action,
                    entry.target,
                    None if entry.before is None else state_json(entry.before),
                    None if entry.after is None else state_json(entry.after),
                    entry.request_id,
                ),
            )
            new_id = cursor.lastrowid
        return AuditEntry(id=new_id, **entry.model_dump())

    def page(
        self, filters: AuditFilters, after: AuditPosition | None, limit: int
    ) -> tuple[list[AuditEntry], bool]:
        """Up to `limit` entries after `after` (reader), newest first, and whether more follow."""
        where, values = _where(filters, after)
        sql = f"{_SELECT}{where} ORDER BY occurred_at DESC, id DESC LIMIT %s"
        with self._database.read_transaction() as cursor:
            cursor.execute(sql, (*values, limit + 1))
            rows = cursor.fetchall()
        return [_entry(row) for row in rows[:limit]], len(rows) > limit
