"""Each test gets its database as a fresh migration leaves it, though migrated once a worker."""

from __future__ import annotations

from typing import Any

import pytest

from courier.data.connections import Database, open_database
from courier.settings import Settings
from local.mariadb_server import MariaDbServer
from tests.integration.migrated_database import YOYO_TABLES, MigratedDatabase


def _database(server: MariaDbServer) -> Database:
    return open_database(
        Settings(database_url=server.writer_url, database_reader_url=server.reader_url)
    )


def _audit_row(cursor: Any, actor: str) -> None:
    cursor.execute(
        "INSERT INTO admin_audit_log (occurred_at, actor_sub, actor_username, action)"
        " VALUES (UTC_TIMESTAMP(3), %s, %s, 'test')",
        (actor, actor),
    )


def _state(server: MariaDbServer) -> dict[str, Any]:
    """Every table's definition and row count, and which migrations yoyo holds applied."""
    connection = server.admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW TABLES FROM courier")
            tables = sorted(name for (name,) in cursor.fetchall())
            state: dict[str, Any] = {}
            for name in tables:
                cursor.execute(f"SHOW CREATE TABLE courier.`{name}`")
                definition = cursor.fetchone()[1]
                counted = name not in ("_yoyo_log", "_yoyo_version")  # timestamps only differ
                if counted:
                    cursor.execute(f"SELECT COUNT(*) FROM courier.`{name}`")
                state[name] = (definition, cursor.fetchone()[0] if counted else None)
            cursor.execute("SELECT migration_id FROM courier._yoyo_migration ORDER BY 1")
            state["applied"] = cursor.fetchall()
            return state
    finally:
        connection.close()


def _freshly_migrated(server: MariaDbServer) -> tuple[MigratedDatabase, Database, dict[str, Any]]:
    """A worker's first test: its database as the migration leaves it, and that state."""
    reuse = MigratedDatabase(server)
    server.reset_database()
    first = _database(server)
    reuse.prepare(first)
    return reuse, first, _state(server)


def test_rows_a_test_left_are_gone_and_counters_restart_for_the_next(
    mariadb: MariaDbServer,
) -> None:
    # Given a freshly migrated database as the first test of a worker gets it
    reuse, first, fresh = _freshly_migrated(mariadb)
    # And a test that wrote rows (moving the audit log's AUTO_INCREMENT on)
    with first.write_transaction() as cursor:
        _audit_row(cursor, "first")
        _audit_row(cursor, "first")
        cursor.execute(
            "INSERT INTO daily_stats (day, timezone, sms_jobs, sms_delivered, sms_failed, "
            "sms_sent, sms_parts, sms_parts_sent_or_delivered, sms_bulk, sms_transactional, "
            "chat_messages, chat_active_users, chat_active_rooms, details) "
            "VALUES ('2026-12-02', 'UTC', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '{}')"
        )
    first.close()
    assert _state(mariadb) != fresh

    # When the next test's database is prepared
    second = _database(mariadb)
    reuse.prepare(second)

    # Then every table, counter and yoyo record is as the fresh migration left it
    assert _state(mariadb) == fresh
    assert set(YOYO_TABLES) <= set(fresh)
    # And the first row the next test writes is number 1 again
    with second.write_transaction() as cursor:
        _audit_row(cursor, "second")
        cursor.execute("SELECT id FROM admin_audit_log")
        assert cursor.fetchall() == [{"id": 1}]
    second.close()


SCHEMA_CHANGES = {
    "table added": "CREATE TABLE courier.leftover (id INT PRIMARY KEY)",
    "column changed": "ALTER TABLE courier.daily_stats MODIFY timezone VARCHAR(200) NOT NULL",
    "index dropped": "ALTER TABLE courier.admin_audit_log DROP INDEX admin_audit_log_action",
    "migration record gone": "DELETE FROM courier._yoyo_migration WHERE migration_id LIKE '0004%'",
    "lock left behind": "INSERT INTO courier.yoyo_lock (locked, ctime, pid)"
    " VALUES (1, UTC_TIMESTAMP(), 1)",
}


@pytest.mark.parametrize("change", SCHEMA_CHANGES.values(), ids=SCHEMA_CHANGES.keys())
def test_a_test_that_changed_the_schema_leaves_the_next_a_database_migrated_afresh(
    mariadb: MariaDbServer, change: str
) -> None:
    # Given a migrated database
    reuse, first, fresh = _freshly_migrated(mariadb)
    # And a test that changed its schema or yoyo's records
    admin = mariadb.admin_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute(change)
        admin.commit()
    finally:
        admin.close()
    first.close()
    assert _state(mariadb) != fresh

    # When the next test's database is prepared
    second = _database(mariadb)
    reuse.prepare(second)

    # Then it is the fresh migration's database again
    assert _state(mariadb) == fresh
    second.close()


def test_an_unmigrated_database_is_migrated(mariadb: MariaDbServer) -> None:
    # Given a worker whose last test left the database empty (the empty_database fixture)
    reuse, first, fresh = _freshly_migrated(mariadb)
    first.close()
    mariadb.reset_database()

    # When the next test's database is prepared
    second = _database(mariadb)
    reuse.prepare(second)

    # Then it is migrated as before
    assert _state(mariadb) == fresh
    second.close()
