"""The database module and the migrations against a private MariaDB server (strict mode)."""

from __future__ import annotations

from datetime import timedelta

import pymysql
import pytest

from courier.data.connections import Database, open_database
from courier.data.errors import ReadOnlyViolation
from courier.data.migrations import MIGRATIONS_DIR, apply_migrations, pending_migrations
from courier.settings import Settings
from local.mariadb_server import MYSQL80_SQL_MODE, MariaDbServer


def _database(server: MariaDbServer) -> Database:
    return open_database(
        Settings(database_url=server.writer_url, database_reader_url=server.reader_url)
    )


def _tables(database: Database) -> set[str]:
    with database.read_transaction() as cursor:
        cursor.execute("SHOW TABLES")
        return {next(iter(row.values())) for row in cursor.fetchall()}


def test_migrations_from_empty_then_a_rerun_applies_nothing(
    empty_database: MariaDbServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an empty database, and a process whose user has no passwd entry (as in Lambda)
    def no_passwd_entry() -> str:
        raise OSError("uid not found")

    monkeypatch.setattr("getpass.getuser", no_passwd_entry)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "courier-migrate")
    database = _database(empty_database)
    files = sorted(path.stem for path in MIGRATIONS_DIR.glob("*.sql"))
    assert files[:2] == ["0001_daily_stats", "0002_admin_audit_log"]
    assert pending_migrations(database.writer_factory) == files

    # When the migrations run twice
    first = apply_migrations(database.writer_factory)
    second = apply_migrations(database.writer_factory)

    # Then the first run applied every file, the second none, and the table exists
    assert first == files
    assert second == []
    assert pending_migrations(database.writer_factory) == []
    assert {"daily_stats", "admin_audit_log", "_yoyo_migration", "yoyo_lock"} <= _tables(database)
    with database.read_transaction() as cursor:
        cursor.execute("SELECT migration_id, operation, username FROM _yoyo_log")
        assert cursor.fetchall() == [
            {"migration_id": name, "operation": "apply", "username": "courier-migrate"}
            for name in files
        ]
    database.close()


def test_a_stale_migration_lock_is_removed_and_a_fresh_one_is_waited_for(
    empty_database: MariaDbServer,
) -> None:
    # Given a lock row left by a migration process killed long ago
    database = _database(empty_database)
    apply_migrations(database.writer_factory)
    with database.write_transaction() as cursor:
        cursor.execute(
            "INSERT INTO yoyo_lock (locked, ctime, pid) "
            "VALUES (1, UTC_TIMESTAMP() - INTERVAL 1 HOUR, 4242)"
        )

    # When the migrations run again, the stale lock does not block them
    assert apply_migrations(database.writer_factory) == []

    # But a lock held now (younger than the stale limit) is respected: the run times out
    with database.write_transaction() as cursor:
        cursor.execute("INSERT INTO yoyo_lock (locked, ctime, pid) VALUES (1, UTC_TIMESTAMP(), 1)")
    with pytest.raises(Exception, match="locked"):
        apply_migrations(
            database.writer_factory, lock_timeout=0.2, stale_lock_after=timedelta(minutes=20)
        )
    database.close()


def test_a_write_in_a_read_transaction_is_refused(database: Database) -> None:
    # Given the migrated database and a row written through the writer
    with database.write_transaction() as cursor:
        cursor.execute(
            "INSERT INTO daily_stats (day, timezone, sms_jobs, sms_delivered, sms_failed, "
            "sms_sent, sms_parts, sms_parts_sent_or_delivered, sms_bulk, sms_transactional, "
            "chat_messages, chat_active_users, chat_active_rooms, details) "
            "VALUES ('2026-12-01', 'UTC', 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 0, '{}')"
        )

    # When a write is routed to the reader, Then it fails as on an Aurora replica
    with pytest.raises(ReadOnlyViolation), database.read_transaction() as cursor:
        cursor.execute("DELETE FROM daily_stats")
    with pytest.raises(ReadOnlyViolation), database.read_transaction() as cursor:
        cursor.execute("CREATE TABLE sneaky (id INT PRIMARY KEY)")

    # And the row is still there, readable through the reader
    with database.read_transaction() as cursor:
        cursor.execute("SELECT COUNT(*) AS n FROM daily_stats")
        assert cursor.fetchone() == {"n": 1}


def test_the_reader_account_itself_may_only_select(
    database: Database, mariadb: MariaDbServer
) -> None:
    # Given a plain connection as the reader account, outside any read-only transaction
    connection = pymysql.connect(
        host="127.0.0.1",
        port=mariadb.port,
        user="courier_reader",
        password=mariadb.reader_password,
        database="courier",
        autocommit=True,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM daily_stats")
            # When it writes, Then the server refuses (command denied)
            with pytest.raises(pymysql.err.OperationalError) as refused:
                cursor.execute("DELETE FROM daily_stats")
    finally:
        connection.close()
    assert refused.value.args[0] == 1142


def test_the_server_runs_mysql_80_strict_mode_in_utc(database: Database) -> None:
    with database.write_transaction() as cursor:
        cursor.execute("SELECT @@sql_mode AS mode, @@time_zone AS tz, @@character_set_server AS cs")
        settings = cursor.fetchone()
    assert settings == {"mode": MYSQL80_SQL_MODE, "tz": "+00:00", "cs": "utf8mb4"}

    # Strict mode: an out-of-range value is an error, not a silently clipped 0
    with pytest.raises(pymysql.err.DataError), database.write_transaction() as cursor:
        cursor.execute(
            "INSERT INTO daily_stats (day, timezone, sms_jobs, sms_delivered, sms_failed, "
            "sms_sent, sms_parts, sms_parts_sent_or_delivered, sms_bulk, sms_transactional, "
            "chat_messages, chat_active_users, chat_active_rooms, details) "
            "VALUES ('2026-12-02', 'UTC', -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '{}')"
        )


def test_sessions_carry_no_prepared_statements_and_no_set_but_names(database: Database) -> None:
    # Given parameterised statements through both roles
    with database.write_transaction() as cursor:
        cursor.execute("SELECT COUNT(*) FROM daily_stats WHERE day >= %s", ("2026-01-01",))
    with database.read_transaction() as cursor:
        cursor.execute("SELECT COUNT(*) FROM daily_stats WHERE day >= %s", ("2026-01-01",))
        # Then this session prepared nothing on the server (RDS Proxy would pin it)
        cursor.execute(
            "SHOW SESSION STATUS WHERE Variable_name IN ('Com_stmt_prepare', 'Com_set_option')"
        )
        status = {row["Variable_name"]: int(row["Value"]) for row in cursor.fetchall()}
    assert status["Com_stmt_prepare"] == 0
    # And its only SET was PyMySQL's `SET NAMES utf8mb4` at connect (tracked by the proxy)
    assert status["Com_set_option"] == 1


def test_a_connection_closed_while_idle_is_reopened(
    database: Database, mariadb: MariaDbServer
) -> None:
    # Given a writer connection in use, then killed by the server (as an idle timeout would)
    with database.write_transaction() as cursor:
        cursor.execute("SELECT CONNECTION_ID() AS id")
        first_id = cursor.fetchone()["id"]
    admin = mariadb.admin_connection()
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"KILL {int(first_id)}")
    finally:
        admin.close()

    # When the next transaction starts, Then it runs on a fresh connection
    with database.write_transaction() as cursor:
        cursor.execute("SELECT CONNECTION_ID() AS id")
        assert cursor.fetchone()["id"] != first_id
