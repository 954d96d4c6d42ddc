"""Applies the versioned SQL files of `migrations/` to the writer, with yoyo-migrations.

Why yoyo-migrations: migrations stay plain SQL files (reviewed as SQL, run alike on MySQL 8.0
and MariaDB 10.11), it is a Python library the migration function, the local runtime and the
tests call in-process, its MySQL backend is PyMySQL (pure Python, like the app's driver), and it
keeps what a migration tool must: a table of applied migrations (`_yoyo_migration`), a log, and
a lock table (`yoyo_lock`) so two deploys never migrate at once. The alternatives: Alembic needs
SQLAlchemy and writes migrations in Python around an ORM this service does not have; Flyway,
Liquibase, dbmate and Atlas are JVM or Go programs that neither pip nor a Python Lambda runs;
pyway (Flyway-like, in Python) has a fraction of yoyo's users. yoyo's releases are infrequent
(9.0.0, 2024) but it is small, stable and does this one job.

Rules for the files: `NNNN_what.sql`, applied in name order, each once; never edit one that has
been applied (add another). MySQL commits DDL implicitly, so a file holds one DDL statement where
possible: a failure midway then leaves nothing half-done. No rollback files: a deploy that rolls
back leaves the schema as it is (every migration stays compatible with the code before it).

A lock row outlives a process killed mid-migration (a Lambda timeout), and yoyo would wait on it
forever; a lock older than `stale_lock_after` (longer than any migration run) is removed first.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from courier.data.connections import Database
    from courier.settings import Settings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _backend(connect: Callable[[], Any], database: str) -> Any:
    """A yoyo MySQL backend on a connection of ours (IAM token, TLS, retry), not on a URL.

    yoyo finds its own tables by the URI's database (information_schema), so the URI names the
    database the connections open.
    """
    from yoyo.backends.core.mysql import MySQLBackend
    from yoyo.connections import parse_uri

    class CourierMySQLBackend(MySQLBackend):  # type: ignore[misc]
        def connect(self, dburi: Any) -> Any:
            return connect()

        def get_log_data(self, migration: Any = None, operation: str = "apply") -> Any:
            # yoyo logs getpass.getuser(), which raises in Lambda (its uid has no passwd entry),
            # and socket.getfqdn(), a reverse DNS lookup inside the VPC: name the runner plainly.
            return {
                "id": str(uuid.uuid1()),
                "migration_id": migration.id if migration else None,
                "migration_hash": migration.hash if migration else None,
                "username": os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "courier-migrations"),
                "hostname": socket.gethostname(),
                "created_at_utc": datetime.now(UTC).replace(tzinfo=None),
                "operation": operation,
            }

    # The URI names the backend and the database (and keys yoyo's per-URI cache); it is
    # never dialled.
    backend = CourierMySQLBackend(parse_uri(f"mysql://courier/{database}"), "_yoyo_migration")
    backend.init_database()
    return backend


def _remove_stale_lock(backend: Any, older_than: timedelta) -> None:
    cutoff = datetime.now(UTC).replace(tzinfo=None) - older_than
    with backend.transaction():
        backend.execute("DELETE FROM yoyo_lock WHERE ctime < :cutoff", {"cutoff": cutoff})


def pending_migrations(connect: Callable[[], Any], *, database: str = "courier") -> list[str]:
    """The ids of the migrations not yet applied, in the order they would be."""
    from yoyo import read_migrations

    backend = _backend(connect, database)
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))]
    finally:
        backend.connection.close()


def apply_migrations(
    connect: Callable[[], Any],
    *,
    database: str = "courier",
    lock_timeout: float = 120,
    stale_lock_after: timedelta = timedelta(minutes=20),
) -> list[str]:
    """Apply every pending migration under yoyo's lock; the ids applied (none: up to date).

    `database` is the one `connect` opens (yoyo looks its tables up there).
    """
    from yoyo import read_migrations

    backend = _backend(connect, database)
    try:
        _remove_stale_lock(backend, stale_lock_after)
        with backend.lock(timeout=lock_timeout):
            pending = backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))
            backend.apply_migrations(pending)
        return [migration.id for migration in pending]
    finally:
        backend.connection.close()


def migrate(settings: Settings, database: Database | None = None) -> list[str]:
    """Apply the pending migrations to the writer the settings name (the deploy-time entry)."""
    from courier.data.connections import open_database

    database = database or open_database(settings)
    return apply_migrations(database.writer_factory, database=settings.database_name)
