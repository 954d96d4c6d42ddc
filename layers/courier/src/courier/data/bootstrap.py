"""Prepares the database on deploy: the database, the application user, then the migrations.

Run by the migration custom resource (functions/data/migrate.py) as the cluster's master user,
whose password is the Secrets Manager secret RDS manages. Every step is idempotent, so a
re-run (an update, a retried deploy) changes nothing that is already there:

- `CREATE DATABASE IF NOT EXISTS`, utf8mb4 as the local MariaDB has it;
- the application user, if missing: IAM-authenticated (`AWSAuthenticationPlugin`), TLS
  required, DML only on that database (the migrations run as the master, so the functions
  never hold DDL rights);
- the pending migrations (`courier.data.migrations`), on a connection to that database.

The statements that create the user come from `app_user_statements` alone, so the tests can
check the IAM form and run the rest against MariaDB, which has no AWSAuthenticationPlugin.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from courier.data.errors import DatabaseNotConfigured

if TYPE_CHECKING:
    from courier.settings import Settings

# How Aurora MySQL authenticates a user with IAM tokens (RDS docs, "Creating a database
# account using IAM authentication").
IAM_AUTHENTICATION = "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'"
APP_USER_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
# Unquoted identifiers only: the names go into DDL, where no placeholder is allowed.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")


def _checked(kind: str, name: str) -> str:
    if not _NAME.match(name):
        raise DatabaseNotConfigured(
            f"{kind} {name!r} is not a plain name (a letter, then letters, digits or _; 32 at most)"
        )
    return name


def create_database_statement(database: str) -> str:
    """The database, with the character set and collation the migrations assume."""
    name = _checked("database", database)
    return (
        f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    )


def app_user_statements(
    user: str, database: str, *, authentication: str = IAM_AUTHENTICATION
) -> list[str]:
    """Create the application user if missing (TLS required) and grant it DML on `database`."""
    user = _checked("user", user)
    database = _checked("database", database)
    return [
        f"CREATE USER IF NOT EXISTS '{user}'@'%' {authentication} REQUIRE SSL",
        f"GRANT {APP_USER_PRIVILEGES} ON `{database}`.* TO '{user}'@'%'",
    ]


@dataclass(frozen=True)
class BootstrapResult:
    database: str
    app_user: str
    applied: list[str]


def bootstrap_database(
    connect: Callable[[str | None], Any],
    *,
    database: str,
    app_user: str,
    authentication: str = IAM_AUTHENTICATION,
) -> BootstrapResult:
    """Create the database and the application user, then apply the pending migrations.

    `connect(None)` opens a connection without a default database (it may not exist yet);
    `connect(database)` one to it, for the migrations.
    """
    from courier.data.migrations import apply_migrations

    statements = [
        create_database_statement(database),
        *app_user_statements(app_user, database, authentication=authentication),
    ]
    connection = connect(None)
    try:
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)  # no arguments: PyMySQL leaves the % signs alone
    finally:
        connection.close()
    applied = apply_migrations(lambda: connect(database), database=database)
    return BootstrapResult(database=database, app_user=app_user, applied=applied)


def master_connector(settings: Settings) -> Callable[[str | None], Any]:
    """Connections as the master user to the writer, the password from the managed secret."""
    from courier.data.connections import ConnectionFactory, Endpoint
    from courier.secret_store import secret_value

    if not settings.database_host or not settings.database_master_secret_arn:
        raise DatabaseNotConfigured(
            "the migrations need DATABASE_HOST and DATABASE_MASTER_SECRET_ARN"
        )
    if not settings.database_ca_bundle:
        raise DatabaseNotConfigured("the master connection needs DATABASE_CA_BUNDLE (TLS)")
    secret = settings.database_master_secret_arn
    user = secret_value(secret, json_key="username")
    password = secret_value(secret, json_key="password")

    def connect(database: str | None) -> Any:
        endpoint = Endpoint(
            settings.database_host, settings.database_port, user, database or "", password
        )
        return ConnectionFactory(
            endpoint,
            ca_bundle=settings.database_ca_bundle,
            connect_timeout=settings.database_connect_timeout_seconds,
        )()

    return connect


def bootstrap_from_settings(settings: Settings) -> BootstrapResult:
    """The deploy-time entry: the database and user the settings name, on their writer."""
    if not settings.database_user:
        raise DatabaseNotConfigured("the migrations need DATABASE_USER (the application user)")
    return bootstrap_database(
        master_connector(settings),
        database=settings.database_name,
        app_user=settings.database_user,
    )
