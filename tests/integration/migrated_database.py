"""The `courier` database migrated once per worker, emptied between tests while its schema holds.

Dropping, re-creating and migrating the database took ~1 s a test; a test that changed nothing
but rows gets the same state from TRUNCATE of the application's tables (it also restarts their
AUTO_INCREMENT counters, as a fresh table has them). What "the schema holds" means is a
fingerprint taken right after migrating: every table's `SHOW CREATE TABLE` (but its
AUTO_INCREMENT counter), the views, triggers, routines and events, and yoyo's bookkeeping rows
(but their timestamps). A test that changed any of it gets a database dropped and migrated afresh.
"""

from __future__ import annotations

import re
from typing import Any

from courier.data.connections import Database
from courier.data.migrations import apply_migrations
from local.mariadb_server import DATABASE, MariaDbServer

# yoyo's tables: their rows say which migrations were applied, so they are kept, not emptied.
YOYO_TABLES = ("_yoyo_log", "_yoyo_migration", "_yoyo_version", "yoyo_lock")
_COUNTER = re.compile(r" AUTO_INCREMENT=\d+")

Fingerprint = tuple[Any, ...]


def _rows(cursor: Any, sql: str, *args: Any) -> tuple[Any, ...]:
    cursor.execute(sql, args)
    return tuple(cursor.fetchall())


def _fingerprint(cursor: Any) -> Fingerprint:
    tables = _rows(
        cursor,
        "SELECT table_name, table_type FROM information_schema.tables"
        " WHERE table_schema = %s ORDER BY table_name",
        DATABASE,
    )
    if not {name for name, _ in tables} >= set(YOYO_TABLES):
        return ("not migrated", tables)
    definitions = []
    for name, kind in tables:
        cursor.execute(f"SHOW CREATE TABLE `{DATABASE}`.`{name}`")
        definitions.append((kind, _COUNTER.sub("", cursor.fetchone()[1])))
    return (
        _rows(cursor, f"SHOW CREATE DATABASE `{DATABASE}`"),
        tuple(definitions),
        _rows(
            cursor,
            "SELECT trigger_name, event_object_table, action_timing, event_manipulation,"
            " action_statement FROM information_schema.triggers"
            " WHERE trigger_schema = %s ORDER BY trigger_name",
            DATABASE,
        ),
        _rows(
            cursor,
            "SELECT routine_name, routine_type, routine_definition FROM information_schema.routines"
            " WHERE routine_schema = %s ORDER BY routine_name",
            DATABASE,
        ),
        _rows(
            cursor,
            "SELECT event_name, event_definition FROM information_schema.events"
            " WHERE event_schema = %s ORDER BY event_name",
            DATABASE,
        ),
        _rows(
            cursor,
            f"SELECT migration_hash, migration_id FROM `{DATABASE}`._yoyo_migration"
            " ORDER BY migration_id",
        ),
        _rows(
            cursor,
            f"SELECT migration_hash, migration_id, operation FROM `{DATABASE}`._yoyo_log"
            " ORDER BY created_at_utc, migration_id",
        ),
        _rows(cursor, f"SELECT version FROM `{DATABASE}`._yoyo_version ORDER BY version"),
        _rows(cursor, f"SELECT COUNT(*) FROM `{DATABASE}`.yoyo_lock"),
    )


class MigratedDatabase:
    """One worker's `courier` database, handed to each test migrated and without rows."""

    def __init__(self, server: MariaDbServer) -> None:
        self._server = server
        self._migrated: Fingerprint | None = None

    def prepare(self, database: Database) -> None:
        """Leave the database as a fresh migration would: emptied if its schema is the one
        migrated last, else dropped and migrated again."""
        connection = self._server.admin_connection()
        # Autocommit: a transaction left open by the checks would hold metadata locks on the
        # tables, and DROP DATABASE (on another connection) would wait on them for ever.
        connection.autocommit(True)
        try:
            with connection.cursor() as cursor:
                # A lock some test connection still holds fails the test here, not hangs it.
                cursor.execute("SET SESSION lock_wait_timeout = 60")
                if self._migrated is not None and _fingerprint(cursor) == self._migrated:
                    self._empty(cursor)
                    return
                self._server.reset_database()
                apply_migrations(database.writer_factory)
                self._migrated = _fingerprint(cursor)
        finally:
            connection.close()

    @staticmethod
    def _empty(cursor: Any) -> None:
        tables = _rows(
            cursor,
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name",
            DATABASE,
        )
        # Foreign keys between the tables would refuse TRUNCATE of a referenced one.
        cursor.execute("SET SESSION foreign_key_checks = 0")
        try:
            for (name,) in tables:
                if name not in YOYO_TABLES:
                    cursor.execute(f"TRUNCATE TABLE `{DATABASE}`.`{name}`")
        finally:
            cursor.execute("SET SESSION foreign_key_checks = 1")
