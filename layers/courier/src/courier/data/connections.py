"""Connections to the writer and the reader, and the explicit read and write transactions.

The Python form of Spring's routing DataSource: a repository opens `database.write_transaction()`
or `database.read_transaction()` and so says where each statement goes. Writes, and reads that
must see a write just made (read-your-writes), use the writer; other reads use the reader, in a
`START TRANSACTION READ ONLY` transaction. A write on the reader fails (a read-only transaction
on MySQL and MariaDB, the replica's read-only mode on Aurora, the SELECT-only account locally)
and surfaces as `ReadOnlyViolation`.

Two ways to connect, chosen by the settings (`courier.settings`):
- URLs (`DATABASE_URL`, `DATABASE_READER_URL`, the template's `external` mode: the local MariaDB);
- IAM (`DATABASE_HOST`, `DATABASE_READER_HOST`, `DATABASE_USER`: the proxy's endpoints or the
  cluster's): the password is an IAM auth token from `generate_db_auth_token`, which signs
  locally (no network call). A token is valid for 15 minutes for opening connections; one is
  reused per (host, port, user) and replaced after 10 minutes, so no connection is opened with
  a token about to expire. IAM authentication requires TLS: the server certificate is verified
  against the RDS CA bundle (`DATABASE_CA_BUNDLE`), host name included.

Connecting waits `DATABASE_CONNECT_TIMEOUT_SECONDS` and is retried once: an Aurora Serverless v2
instance resuming from auto-pause may refuse or drop the first attempt. Connections are kept for
the life of the execution environment and re-opened once when found dead at the start of a
transaction (an idle proxy or server closes them); a transaction that fails midway is never
replayed here.

RDS Proxy session pinning, checked in PyMySQL 1.2.4's source (`connections.py`, `cursors.py`):
- no server-side prepared statements: `cursor.execute` interpolates the escaped parameters on
  the client (`Cursor.mogrify`) and sends COM_QUERY; PyMySQL never sends COM_STMT_PREPARE;
- on connect it sends `SET NAMES utf8mb4` (always, since PyMySQL 1.1) and `SET AUTOCOMMIT = n`
  only when the requested mode differs from the server's (autocommit=True here, the server's
  default, so none is sent). `sql_mode` and `init_command` stay unset, so nothing else is sent.
  NAMES and AUTOCOMMIT are among the variables RDS Proxy tracks: they do not pin. The strict
  `sql_mode` and the UTC `time_zone` come from the cluster parameter group (server defaults),
  not from the client. The proxy's InitQuery can stay empty; if one is set, `SET NAMES utf8mb4`
  (what every client sends anyway).
- the code issues no `SET`, `LOCK TABLES`, user variables, temporary tables or `GET_LOCK`.
  A statement over 16 KB also pins: the stats history's upsert stays well below that.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from courier.data.errors import DatabaseNotConfigured, DatabaseUnavailable, ReadOnlyViolation

if TYPE_CHECKING:
    from pymysql.connections import Connection
    from pymysql.cursors import DictCursor

    from courier.settings import Settings

# Client errors that mean the server could not be reached or the link dropped (CR_* codes), and
# server errors worth one more try (too many connections, shutting down).
CONNECTION_ERRORS = frozenset({0, 1040, 1053, 2002, 2003, 2005, 2006, 2013, 2055})
ACCESS_DENIED = 1045
# A write refused as read-only: MySQL/MariaDB read-only transaction (1792), Aurora replica
# (1290 --read-only, 1836 read-only mode), a SELECT-only account (1142 command denied).
READ_ONLY_ERRORS = frozenset({1792, 1290, 1836, 1142})

TOKEN_REFRESH_SECONDS = 600.0  # a token lives 900 s; never open a connection with an old one
RETRY_DELAY_SECONDS = 0.5
READ_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Endpoint:
    """Where one role (writer or reader) connects; `password` None means an IAM token."""

    host: str
    port: int
    user: str
    database: str
    password: str | None = None

    def __repr__(self) -> str:  # never print a password
        return f"Endpoint({self.user}@{self.host}:{self.port}/{self.database})"


def parse_database_url(url: str) -> Endpoint:
    """`mysql://user:password@host:port/database` (user and password percent-encoded)."""
    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mysql+pymysql") or not parts.hostname:
        raise DatabaseNotConfigured("a database URL looks like mysql://user:pass@host:3306/db")
    database = parts.path.lstrip("/")
    if not database or not parts.username:
        raise DatabaseNotConfigured("a database URL names a user and a database")
    return Endpoint(
        host=parts.hostname,
        port=parts.port or 3306,
        user=unquote(parts.username),
        database=unquote(database),
        password=unquote(parts.password or ""),
    )


def endpoints(settings: Settings) -> tuple[Endpoint, Endpoint]:
    """(writer, reader) from the settings; with no reader configured, reads use the writer."""
    if settings.database_url:
        writer = parse_database_url(settings.database_url)
        reader_url = settings.database_reader_url
        return writer, parse_database_url(reader_url) if reader_url else writer
    if settings.database_host:
        if not settings.database_user:
            raise DatabaseNotConfigured("DATABASE_HOST is set without DATABASE_USER")
        if not settings.database_ca_bundle:
            raise DatabaseNotConfigured("IAM database authentication needs DATABASE_CA_BUNDLE")

        def at(host: str) -> Endpoint:
            return Endpoint(
                host, settings.database_port, settings.database_user, settings.database_name
            )

        writer = at(settings.database_host)
        return writer, at(
            settings.database_reader_host
        ) if settings.database_reader_host else writer
    raise DatabaseNotConfigured("set DATABASE_URL (external) or DATABASE_HOST (IAM)")


TokenGenerator = Callable[[str, int, str], str]


def rds_token_generator(region: str | None = None) -> TokenGenerator:
    """`generate_db_auth_token` of a boto3 RDS client: a SigV4-presigned string, made locally."""
    import boto3

    client = boto3.client("rds", region_name=region)

    def generate(host: str, port: int, user: str) -> str:
        token: str = client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user)
        return token

    return generate


class IamTokenCache:
    """One IAM auth token per (host, port, user), replaced once it is `refresh_after` old."""

    def __init__(
        self,
        generate: TokenGenerator,
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_after: float = TOKEN_REFRESH_SECONDS,
    ) -> None:
        self._generate = generate
        self._clock = clock
        self._refresh_after = refresh_after
        self._tokens: dict[tuple[str, int, str], tuple[str, float]] = {}

    def token(self, host: str, port: int, user: str) -> str:
        key = (host, port, user)
        now = self._clock()
        cached = self._tokens.get(key)
        if cached is not None and now - cached[1] < self._refresh_after:
            return cached[0]
        token = self._generate(host, port, user)
        self._tokens[key] = (token, now)
        return token

    def invalidate(self, host: str, port: int, user: str) -> None:
        self._tokens.pop((host, port, user), None)


def _error_code(error: BaseException) -> int | None:
    args = getattr(error, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


class ConnectionFactory:
    """Opens PyMySQL connections to one endpoint: a timeout, and one retry on failure."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        tokens: IamTokenCache | None = None,
        ca_bundle: str = "",
        connect_timeout: float = 10.0,
        connect: Callable[..., Any] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if endpoint.password is None and tokens is None:
            raise DatabaseNotConfigured(f"{endpoint!r} has no password and no IAM token source")
        self.endpoint = endpoint
        self._tokens = tokens
        self._ca_bundle = ca_bundle
        self._connect_timeout = connect_timeout
        self._connect = connect
        self._sleep = sleep

    def _arguments(self) -> dict[str, Any]:
        import pymysql.cursors

        endpoint = self.endpoint
        password = endpoint.password
        if password is None:
            assert self._tokens is not None
            password = self._tokens.token(endpoint.host, endpoint.port, endpoint.user)
        arguments: dict[str, Any] = {
            "host": endpoint.host,
            "port": endpoint.port,
            "user": endpoint.user,
            "password": password,
            "database": endpoint.database,
            "charset": "utf8mb4",
            # The server's default: PyMySQL then sends no SET AUTOCOMMIT (see the docstring).
            "autocommit": True,
            "connect_timeout": self._connect_timeout,
            "read_timeout": READ_TIMEOUT_SECONDS,
            "write_timeout": READ_TIMEOUT_SECONDS,
            # Plain tuple cursors by default (the migration tool expects them); transactions
            # ask for dict cursors themselves.
            "cursorclass": pymysql.cursors.Cursor,
        }
        if self._ca_bundle:
            arguments |= {
                "ssl_ca": self._ca_bundle,
                "ssl_verify_cert": True,
                "ssl_verify_identity": True,
            }
        return arguments

    def __call__(self) -> Connection[Any]:
        import pymysql

        from courier.observability import trace_library

        # Patched here, not by every function's tracer at import: only these functions need it.
        trace_library("pymysql")
        connect = self._connect or pymysql.connect
        try:
            connection: Connection[Any] = connect(**self._arguments())
            return connection
        except pymysql.err.OperationalError as error:
            code = _error_code(error)
            iam = self.endpoint.password is None
            if code == ACCESS_DENIED and iam and self._tokens is not None:
                # A token refused (clock skew, a rotated key): a fresh one on the retry.
                self._tokens.invalidate(self.endpoint.host, self.endpoint.port, self.endpoint.user)
            elif code not in CONNECTION_ERRORS:
                raise
            first = error
        self._sleep(RETRY_DELAY_SECONDS)
        try:
            return connect(**self._arguments())
        except pymysql.err.OperationalError as error:
            raise DatabaseUnavailable(
                f"cannot connect to {self.endpoint!r}: {first}; retried: {error}"
            ) from error


class Database:
    """The writer and the reader, each one kept connection; transactions say which they use.

    Not thread-safe: one `Database` per thread (a Lambda execution environment has one).
    """

    def __init__(self, writer: ConnectionFactory, reader: ConnectionFactory | None = None) -> None:
        self._factories = {"writer": writer, "reader": reader or writer}
        self._connections: dict[str, Connection[Any]] = {}

    @property
    def writer_factory(self) -> ConnectionFactory:
        """Opens connections to the writer (the migrations take one of their own)."""
        return self._factories["writer"]

    @property
    def reader_factory(self) -> ConnectionFactory:
        """Opens connections to the reader (the writer's factory when no reader is set)."""
        return self._factories["reader"]

    @contextmanager
    def write_transaction(self) -> Iterator[DictCursor]:
        """A transaction on the writer: committed when the block ends, rolled back on error."""
        with self._transaction("writer", "START TRANSACTION") as cursor:
            yield cursor

    @contextmanager
    def read_transaction(self) -> Iterator[DictCursor]:
        """A read-only transaction on the reader (may lag the writer by replica lag)."""
        import pymysql

        with self._transaction("reader", "START TRANSACTION READ ONLY") as cursor:
            try:
                yield cursor
            except pymysql.err.MySQLError as error:
                if _error_code(error) in READ_ONLY_ERRORS:
                    raise ReadOnlyViolation(f"a write was sent to the reader: {error}") from error
                raise

    def _begin(self, role: str, statement: str) -> Connection[Any]:
        import pymysql

        connection = self._connections.get(role)
        if connection is not None:
            try:
                connection.query(statement)
                return connection
            except pymysql.err.InterfaceError:
                self._discard(role)  # PyMySQL found its socket closed
            except pymysql.err.OperationalError as error:
                if _error_code(error) not in CONNECTION_ERRORS:
                    raise
                self._discard(role)  # closed by the server or the proxy while idle
        connection = self._factories[role]()
        self._connections[role] = connection
        connection.query(statement)
        return connection

    @contextmanager
    def _transaction(self, role: str, statement: str) -> Iterator[DictCursor]:
        import pymysql

        connection = self._begin(role, statement)
        cursor = connection.cursor(pymysql.cursors.DictCursor)
        try:
            yield cursor
        except BaseException:
            try:
                connection.rollback()
            except pymysql.err.MySQLError:
                self._discard(role)
            raise
        else:
            try:
                connection.commit()
            except pymysql.err.MySQLError:
                self._discard(role)
                raise
        finally:
            cursor.close()

    def _discard(self, role: str) -> None:
        connection = self._connections.pop(role, None)
        if connection is not None:
            with suppress(Exception):  # already broken: closing is best effort
                connection.close()

    def close(self) -> None:
        for role in list(self._connections):
            self._discard(role)


def open_database(
    settings: Settings,
    *,
    tokens: IamTokenCache | None = None,
    connect: Callable[..., Any] | None = None,
) -> Database:
    """The writer and reader connection factories the settings describe (nothing opened yet)."""
    writer, reader = endpoints(settings)
    if writer.password is None and tokens is None:
        tokens = IamTokenCache(rds_token_generator())
    options: dict[str, Any] = {
        "tokens": tokens,
        "ca_bundle": settings.database_ca_bundle,
        "connect_timeout": settings.database_connect_timeout_seconds,
        "connect": connect,
    }
    writer_factory = ConnectionFactory(writer, **options)
    reader_factory = None if reader == writer else ConnectionFactory(reader, **options)
    return Database(writer_factory, reader_factory)


@cache
def shared_database() -> Database:
    """This execution environment's database, from its settings: kept across invocations."""
    from courier.settings import get_settings

    return open_database(get_settings())
