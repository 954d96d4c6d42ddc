"""Connection settings, the connect retry and IAM token caching, with fakes (no network)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pymysql
import pytest

from courier.data.connections import (
    ConnectionFactory,
    Endpoint,
    IamTokenCache,
    endpoints,
    open_database,
    parse_database_url,
    rds_token_generator,
)
from courier.data.errors import DatabaseNotConfigured, DatabaseUnavailable
from courier.settings import Settings

AURORA = "courier.cluster-abc.ap-northeast-2.rds.amazonaws.com"


class FakeConnect:
    """pymysql.connect stand-in: raises the queued errors first, then returns a connection."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, **arguments: Any) -> object:
        self.calls.append(arguments)
        if self.errors:
            raise self.errors.pop(0)
        return object()


def _can_not_connect() -> pymysql.err.OperationalError:
    return pymysql.err.OperationalError(2003, "Can't connect to MySQL server (timed out)")


def test_a_failed_connect_is_retried_once_after_a_short_wait() -> None:
    # Given a server that refuses the first attempt (Aurora resuming from auto-pause)
    connect, sleeps = FakeConnect(_can_not_connect()), []
    factory = ConnectionFactory(
        Endpoint("127.0.0.1", 3306, "app", "courier", "secret"),
        connect=connect,
        sleep=sleeps.append,
        connect_timeout=7,
    )

    # When a connection is opened, Then the second attempt gives it
    assert factory() is not None
    assert len(connect.calls) == 2
    assert sleeps == [0.5]
    assert connect.calls[0]["connect_timeout"] == 7


def test_two_failed_connects_raise_database_unavailable() -> None:
    connect = FakeConnect(_can_not_connect(), _can_not_connect())
    factory = ConnectionFactory(
        Endpoint("127.0.0.1", 3306, "app", "courier", "secret"),
        connect=connect,
        sleep=lambda _: None,
    )

    with pytest.raises(DatabaseUnavailable, match="retried"):
        factory()
    assert len(connect.calls) == 2


def test_a_wrong_password_is_not_retried() -> None:
    connect = FakeConnect(pymysql.err.OperationalError(1045, "Access denied"))
    factory = ConnectionFactory(
        Endpoint("127.0.0.1", 3306, "app", "courier", "wrong"),
        connect=connect,
        sleep=lambda _: None,
    )

    with pytest.raises(pymysql.err.OperationalError):
        factory()
    assert len(connect.calls) == 1


def test_a_refused_iam_token_is_replaced_on_the_retry() -> None:
    # Given IAM authentication whose first token the server refuses
    issued: list[str] = []

    def generate(host: str, port: int, user: str) -> str:
        issued.append(f"token-{len(issued) + 1}")
        return issued[-1]

    connect = FakeConnect(pymysql.err.OperationalError(1045, "Access denied"))
    factory = ConnectionFactory(
        Endpoint(AURORA, 3306, "courier_app", "courier"),
        tokens=IamTokenCache(generate),
        ca_bundle="/opt/rds-ca.pem",
        connect=connect,
        sleep=lambda _: None,
    )

    # When a connection is opened, Then the retry used a new token, over verified TLS
    factory()
    assert [call["password"] for call in connect.calls] == ["token-1", "token-2"]
    assert connect.calls[1]["ssl_ca"] == "/opt/rds-ca.pem"
    assert connect.calls[1]["ssl_verify_identity"] is True


def test_connection_arguments_ask_for_no_session_state() -> None:
    connect = FakeConnect()
    ConnectionFactory(Endpoint("db", 3306, "app", "courier", "pw"), connect=connect)()

    (arguments,) = connect.calls
    # autocommit=True is the server's default, so PyMySQL sends no SET AUTOCOMMIT
    assert arguments["autocommit"] is True
    assert arguments["charset"] == "utf8mb4"
    assert "init_command" not in arguments
    assert "sql_mode" not in arguments
    assert "ssl_ca" not in arguments


def test_an_iam_token_is_made_locally_and_reused_per_host_and_user(aws_env: None) -> None:
    # Given botocore's real token signer (local SigV4 presigning, fake credentials) and a clock
    now = [1000.0]
    tokens = IamTokenCache(rds_token_generator("ap-northeast-2"), clock=lambda: now[0])

    # When tokens are asked for within ten minutes, Then the same one comes back
    first = tokens.token(AURORA, 3306, "courier_app")
    now[0] += 599
    assert tokens.token(AURORA, 3306, "courier_app") == first

    # And it is an rds-db connect token for that user and host, valid for 15 minutes
    parts = urlsplit("https://" + first)
    query = parse_qs(parts.query)
    assert parts.hostname == AURORA
    assert query["Action"] == ["connect"]
    assert query["DBUser"] == ["courier_app"]
    assert query["X-Amz-Expires"] == ["900"]

    # And another user gets its own token
    assert "DBUser=courier_migrator" in tokens.token(AURORA, 3306, "courier_migrator")


def test_an_iam_token_is_replaced_once_ten_minutes_old() -> None:
    # Given a token source that numbers its tokens, and a clock
    now = [0.0]
    made: list[tuple[str, int, str]] = []

    def generate(host: str, port: int, user: str) -> str:
        made.append((host, port, user))
        return f"token-{len(made)}"

    tokens = IamTokenCache(generate, clock=lambda: now[0])

    # When asked again just before ten minutes, Then the cached token comes back
    assert tokens.token("h", 3306, "u") == "token-1"
    now[0] = 599.9
    assert tokens.token("h", 3306, "u") == "token-1"

    # When ten minutes have passed, Then a new one is made (a token opens connections for 15)
    now[0] = 600.0
    assert tokens.token("h", 3306, "u") == "token-2"
    assert made == [("h", 3306, "u"), ("h", 3306, "u")]


def test_urls_give_the_writer_and_reader_endpoints() -> None:
    settings = Settings(
        database_url="mysql://courier_app:p%40ss%2Fword@127.0.0.1:33061/courier",
        database_reader_url="mysql://courier_reader:r@127.0.0.1:33061/courier",
    )

    writer, reader = endpoints(settings)

    assert writer == Endpoint("127.0.0.1", 33061, "courier_app", "courier", "p@ss/word")
    assert reader.user == "courier_reader"
    assert "p@ss" not in repr(writer)


def test_without_a_reader_reads_go_to_the_writer() -> None:
    writer, reader = endpoints(Settings(database_url="mysql://app:pw@db:3306/courier"))
    assert reader == writer


def test_iam_mode_needs_a_user_and_the_ca_bundle() -> None:
    with pytest.raises(DatabaseNotConfigured, match="DATABASE_USER"):
        endpoints(Settings(database_host=AURORA))
    with pytest.raises(DatabaseNotConfigured, match="CA_BUNDLE"):
        endpoints(Settings(database_host=AURORA, database_user="courier_app"))
    with pytest.raises(DatabaseNotConfigured, match="DATABASE_URL"):
        endpoints(Settings())
    with pytest.raises(DatabaseNotConfigured, match="mysql://"):
        parse_database_url("postgres://u:p@h/db")


def test_iam_mode_connects_to_the_proxy_endpoints_with_tokens(aws_env: None) -> None:
    # Given the proxy's read/write and read-only endpoints
    settings = Settings(
        database_host="courier.proxy-abc.ap-northeast-2.rds.amazonaws.com",
        database_reader_host="courier-ro.endpoint.proxy-abc.ap-northeast-2.rds.amazonaws.com",
        database_user="courier_app",
        database_ca_bundle="/opt/python/courier/data/rds-ca.pem",
    )
    connect = FakeConnect()
    database = open_database(settings, connect=connect)

    # When each role connects
    database.writer_factory()
    database.reader_factory()

    # Then each host got a token of its own, as the application user, over TLS
    writer_call, reader_call = connect.calls
    assert writer_call["host"] == settings.database_host
    assert reader_call["host"] == settings.database_reader_host
    assert f"{settings.database_reader_host}:3306/?Action=connect" in reader_call["password"]
    assert {writer_call["user"], reader_call["user"]} == {"courier_app"}
    assert reader_call["ssl_verify_cert"] is True
