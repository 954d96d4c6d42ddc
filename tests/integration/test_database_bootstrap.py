"""courier.data.bootstrap against the private MariaDB: database, user, grants, migrations.

MariaDB has no AWSAuthenticationPlugin, so the user is created here with a password instead of
the IAM clause; everything else (the statements' shape, REQUIRE SSL, the grants, the database
creation, the migrations, and running it all twice) runs for real. The IAM clause itself is
checked in tests/unit/test_database_migration_handler.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from courier.data.bootstrap import bootstrap_database
from courier.data.migrations import MIGRATIONS_DIR
from local.mariadb_server import MariaDbServer

DATABASE = "courier_bootstrap"
APP_USER = "courier_boot_app"


@pytest.fixture
def master(mariadb: MariaDbServer) -> Iterator[Any]:
    """Connections as the server's root (the master's stand-in); cleans up what it created."""
    import pymysql

    def connect(database: str | None) -> Any:
        return pymysql.connect(
            unix_socket=str(mariadb.socket_path),
            user="root",
            password="",
            database=database or None,
            connect_timeout=5,
        )

    yield connect
    connection = mariadb.admin_connection()
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{DATABASE}`")
            cursor.execute(f"DROP USER IF EXISTS '{APP_USER}'@'%'")
    finally:
        connection.close()


def _query(connect: Any, sql: str) -> list[tuple[Any, ...]]:
    connection = connect(None)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return list(cursor.fetchall())
    finally:
        connection.close()


def test_bootstrap_creates_the_database_the_user_and_the_schema_and_reruns_as_a_no_op(
    master: Any,
) -> None:
    # Given a server without the database or the application user
    assert not _query(master, f"SHOW DATABASES LIKE '{DATABASE}'")
    # When the bootstrap runs (a password instead of the IAM plugin, which MariaDB lacks)
    first = bootstrap_database(
        master, database=DATABASE, app_user=APP_USER, authentication="IDENTIFIED BY 'pw-1'"
    )
    # Then the database exists with utf8mb4, the migrations are applied, and the table is there
    assert first.applied == sorted(path.stem for path in MIGRATIONS_DIR.glob("*.sql"))
    assert first.applied[:2] == ["0001_daily_stats", "0002_admin_audit_log"]
    ((charset,),) = _query(
        master,
        "SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA "
        f"WHERE SCHEMA_NAME = '{DATABASE}'",
    )
    assert charset == "utf8mb4"
    assert _query(master, f"SHOW TABLES FROM `{DATABASE}` LIKE 'daily_stats'")
    # And the user may only read and write rows of that database, over TLS only
    grants = " ".join(row[0] for row in _query(master, f"SHOW GRANTS FOR '{APP_USER}'@'%'"))
    assert f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{DATABASE}`.* TO `{APP_USER}`@`%`" in grants
    assert "REQUIRE SSL" in grants
    for privilege in ("CREATE", "DROP", "ALTER", "GRANT OPTION", "ALL PRIVILEGES"):
        assert privilege not in grants.replace("GRANT SELECT", "SELECT"), privilege

    # When it runs again (an update, a retried deploy)
    second = bootstrap_database(
        master, database=DATABASE, app_user=APP_USER, authentication="IDENTIFIED BY 'pw-2'"
    )
    # Then nothing is pending and the existing user is left as it was
    assert second.applied == []
    assert _query(master, f"SELECT COUNT(*) FROM `{DATABASE}`._yoyo_migration") == [
        (len(first.applied),)
    ]
