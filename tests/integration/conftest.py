"""Integration fixtures: the SMS, chat and stats sides of the stack in moto, from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from courier.data.connections import Database, open_database, shared_database
from courier.settings import Settings, get_settings
from courier.stats import wiring as stats_wiring
from local.mariadb_server import MariaDbServer, mariadb_server
from tests.harness import (
    REGION,
    SmsStack,
    create_table_from_template,
    sms_moto_stack,
    template_resources,
)
from tests.iam_check import plugin as iam_check_plugin
from tests.integration.migrated_database import MigratedDatabase
from tests.integration.stats_day import (
    BUCKET,
    CHAT_SHARDS,
    NOW,
    STREAM_POSITIONS,
    Stack,
)


@pytest.fixture
def sms_stack(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmsStack]:
    with sms_moto_stack(monkeypatch.setenv) as stack:
        yield stack


CHAT_API_ENDPOINT = "https://a1b2c3d4e5.execute-api.ap-northeast-2.amazonaws.com/live"


@pytest.fixture
def chat_env(aws_env: None, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Chat tables (from template.yaml) in moto, the session's redis-server (flushed), a secret."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table_from_template(dynamodb, "ChatConnectionsTable", "ChatConnections")
        create_table_from_template(dynamodb, "ChatMessagesTable", "ChatMessages")
        create_table_from_template(dynamodb, "ChatTicketsTable", "ChatTickets")
        create_table_from_template(dynamodb, "ChatRevocationsTable", "ChatRevocations")
        for name, value in {
            "CHAT_CONNECTIONS_TABLE": "ChatConnections",
            "CHAT_MESSAGES_TABLE": "ChatMessages",
            "CHAT_TICKETS_TABLE": "ChatTickets",
            "CHAT_REVOCATIONS_TABLE": "ChatRevocations",
            "CHAT_TOKEN_SECRET": "test-signing-secret-0123456789abcdef0123456789",
            "CHAT_HISTORY_RECENT": "5",
            "CHAT_SEND_RATE_PER_SECOND": "1000",
            "CHAT_SEND_BURST": "1000",
            "REDIS_URL": redis_url,
        }.items():
            monkeypatch.setenv(name, value)
        yield dynamodb


@pytest.fixture
def chat(chat_env: Any) -> Iterator[None]:
    """The chat environment with the channel's cached wiring built afresh for each test."""
    from courier.chat import wiring
    from courier.settings import get_settings

    get_settings.cache_clear()
    wiring.chat_channel.cache_clear()
    wiring.poster.cache_clear()
    yield
    wiring.chat_channel.cache_clear()
    wiring.poster.cache_clear()


STATS_STEPS = (
    stats_wiring.sms_stats_counter,
    stats_wiring.stats_planner,
    stats_wiring.stats_aggregator,
    stats_wiring.stats_publisher,
    stats_wiring.stats_cache,
)


def _clear_stats_wiring() -> None:
    for cached in STATS_STEPS:
        cached.cache_clear()
    if shared_database.cache_info().currsize:  # close the step's connections, never open one
        shared_database().close()
    shared_database.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def stack(
    aws_env: None, database: Database, mariadb: MariaDbServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    """The stats tables, bucket and settings in moto, the stats history in the session's MariaDB
    (migrated, empty), with the clock at 00:10 on the 25th (KST)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_table_from_template(client, "SmsMessagesTable", "SmsMessages")
        create_table_from_template(client, "SmsStatsPartialsTable", "SmsStatsPartials")
        create_table_from_template(client, "ChatMessagesTable", "ChatMessages")
        STREAM_POSITIONS.clear()
        if "DailyStatsTable" in template_resources():
            create_table_from_template(client, "DailyStatsTable", "DailyStats")
        else:
            # The DailyStats table as the template declares it: key `date` (string), on demand.
            client.create_table(
                TableName="DailyStats",
                KeySchema=[{"AttributeName": "date", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "date", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        for name, value in {
            "SMS_MESSAGES_TABLE": "SmsMessages",
            "CHAT_MESSAGES_TABLE": "ChatMessages",
            "STATS_TABLE": "DailyStats",
            "STATS_REPORTS_BUCKET": BUCKET,
            "STATS_TOP_ROOMS": "2",
            "SMS_STATS_PARTIALS_TABLE": "SmsStatsPartials",
            "CHAT_DAY_SHARDS": str(CHAT_SHARDS),
            "SERVICE_TIMEZONE": "Asia/Seoul",
            "DATABASE_URL": mariadb.writer_url,
            "DATABASE_READER_URL": mariadb.reader_url,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("REDIS_URL", raising=False)  # no stats cache unless a test sets one
        monkeypatch.setattr(stats_wiring, "system_clock", lambda: NOW)
        _clear_stats_wiring()
        yield Stack(database)
        _clear_stats_wiring()


# ---- relational data: a private MariaDB server (local/mariadb_server.py) ----------------------
@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDbServer]:
    """One private MariaDB server for the session: strict mode, a writer and a reader account."""
    with mariadb_server() as server:
        yield server


@pytest.fixture
def empty_database(mariadb: MariaDbServer) -> MariaDbServer:
    """The session's server with an empty `courier` database (no migrations applied)."""
    mariadb.reset_database()
    return mariadb


@pytest.fixture(scope="session")
def migrated_database(mariadb: MariaDbServer) -> MigratedDatabase:
    return MigratedDatabase(mariadb)


@pytest.fixture
def database(migrated_database: MigratedDatabase, mariadb: MariaDbServer) -> Iterator[Database]:
    """The routing database on the writer and reader accounts, migrated to the latest version and
    without rows (migrated once per worker, emptied between tests: tests/integration/
    migrated_database.py)."""
    settings = Settings(database_url=mariadb.writer_url, database_reader_url=mariadb.reader_url)
    db = open_database(settings)
    migrated_database.prepare(db)
    yield db
    db.close()


# IAM proven by the tests: every AWS call a handler makes here is checked against its role.
iam_check_plugin.install()
