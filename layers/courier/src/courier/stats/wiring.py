"""Builds the stats steps and their adapters from settings, once per execution environment."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from courier.settings import Settings, get_settings

if TYPE_CHECKING:
    from collections.abc import Callable

    import redis

    from courier.data.connections import Database
    from courier.stats.adapters import S3ObjectStore
    from courier.stats.planning import StatsPlanner
    from courier.stats.read_cache import CachedStatsHistory, StatsReadCache
    from courier.stats.steps import StatsAggregator, StatsPublisher
    from courier.stats.stream_counts import SmsStatsCounter


def system_clock() -> datetime:
    return datetime.now(UTC)


def _current_clock() -> datetime:
    # `system_clock` is looked up at each call, so a test can replace it after the planner exists.
    return system_clock()


def s3_client(settings: Settings) -> Any:
    import boto3
    from botocore.config import Config

    # Emulators serve buckets by path, not by virtual host.
    config = Config(s3={"addressing_style": "path"}) if settings.aws_endpoint_url else None
    return boto3.client("s3", endpoint_url=settings.aws_endpoint_url or None, config=config)


def dynamodb_client(settings: Settings) -> Any:
    """A low-level DynamoDB client for the stats pagers: the shared resource's client
    deserialises every response, which the pagers do faster themselves."""
    import boto3

    from courier.dynamodb_tables import dynamodb_client_config

    return boto3.client(
        "dynamodb",
        endpoint_url=settings.aws_endpoint_url or None,
        config=dynamodb_client_config(),
    )


def build_objects(settings: Settings) -> S3ObjectStore:
    from courier.stats.adapters import S3ObjectStore

    return S3ObjectStore(s3_client(settings), settings.stats_reports_bucket)


def build_planner(
    settings: Settings, *, clock: Callable[[], datetime] = system_clock
) -> StatsPlanner:
    from courier.stats.planning import StatsPlanner

    return StatsPlanner(
        chat_shards=settings.chat_day_shards,
        timezone=settings.service_timezone,
        clock=clock,
        allow_open_day=settings.stats_allow_open_day,
        late_receipt_days=settings.stats_late_receipt_days,
    )


def sms_vocabularies() -> dict[str, tuple[str, ...]]:
    """The known words of the SMS fields the day-shard fold counts by text (a page with another
    word is decoded the general way). The stats batch no longer folds SMS pages (it merges the
    stream counter's partials); the reference fold's tests and `bench stats` still do."""
    from courier.sms.contract import Priority
    from courier.sms.status import SmsStatus

    return {
        "status": tuple(status.value for status in SmsStatus),
        "priority": tuple(priority.value for priority in Priority),
    }


def build_aggregator(settings: Settings, *, page_size: int | None = None) -> StatsAggregator:
    from zoneinfo import ZoneInfo

    from courier.stats.adapters import DynamoDayShardPager
    from courier.stats.steps import StatsAggregator
    from courier.stats.tallies import CHAT_FIELDS

    zone = ZoneInfo(settings.service_timezone)
    return StatsAggregator(
        sms=build_counter(settings),
        chat=DynamoDayShardPager(
            dynamodb_client(settings),
            settings.chat_messages_table,
            fields=CHAT_FIELDS,
            page_size=page_size,
        ),
        objects=build_objects(settings),
        zone=zone,
    )


def build_counter(settings: Settings) -> SmsStatsCounter:
    """The SMS stream counter on its partials table (the stats batch reads a day through it)."""
    from zoneinfo import ZoneInfo

    from courier.stats.partials_store import DynamoPartialsStore
    from courier.stats.stream_counts import SmsStatsCounter

    return SmsStatsCounter(
        DynamoPartialsStore.from_settings(settings), zone=ZoneInfo(settings.service_timezone)
    )


def build_stats_cache(settings: Settings, *, client: redis.Redis | None = None) -> StatsReadCache:
    """The stats read cache: on `client`, else on REDIS_URL (opened at first use), else off."""
    from zoneinfo import ZoneInfo

    from courier.stats.read_cache import CacheTtls, StatsReadCache
    from courier.stats.redis_cache import RedisStatsCache

    cache: RedisStatsCache | None = None
    if client is not None:
        cache = RedisStatsCache(client)
    elif settings.redis_url and settings.stats_cache_enabled:
        from courier.redis_connection import connect_redis

        def open_client() -> redis.Redis:
            # No retry: a cache error is a database read, and a retry would double its cost.
            return connect_redis(
                settings, timeout_seconds=settings.stats_cache_timeout_seconds, retries=0
            )

        cache = RedisStatsCache(open_client)
    return StatsReadCache(
        cache,
        ttls=CacheTtls(
            open_seconds=settings.stats_cache_ttl_open_seconds,
            recent_seconds=settings.stats_cache_ttl_recent_seconds,
            closed_seconds=settings.stats_cache_ttl_closed_seconds,
            # The scheduled run recounts yesterday and the late-receipt days before it.
            recent_days=settings.stats_late_receipt_days + 1,
        ),
        zone=ZoneInfo(settings.service_timezone),
        lock_ms=settings.stats_cache_lock_ms,
        wait_ms=settings.stats_cache_wait_ms,
        retry_after_seconds=settings.stats_cache_retry_after_seconds,
    )


def cached_history(
    database: Database, client: redis.Redis | None = None, settings: Settings | None = None
) -> CachedStatsHistory:
    """The history's range reads through the stats cache, e.g. to time cached against uncached
    reads: `.range_summary(first, last, group)` on this and on its `.history` (the plain
    `MySqlStatsHistory`). The cache is on `client`, else on the settings' REDIS_URL (the
    functions' client: short timeout, one retry), else off."""
    from courier.stats.history_store import MySqlStatsHistory
    from courier.stats.read_cache import CachedStatsHistory

    cache = build_stats_cache(settings or get_settings(), client=client)
    return CachedStatsHistory(MySqlStatsHistory(database), cache)


def build_publisher(
    settings: Settings,
    *,
    database: Database | None = None,
    cache: StatsReadCache | None = None,
) -> StatsPublisher:
    from courier.data.connections import shared_database
    from courier.dynamodb_tables import dynamodb_table
    from courier.stats.adapters import DynamoStatsTable
    from courier.stats.history_store import MySqlStatsHistory
    from courier.stats.planning import SMS_TASKS
    from courier.stats.steps import StatsPublisher

    return StatsPublisher(
        objects=build_objects(settings),
        table=DynamoStatsTable(dynamodb_table(settings, settings.stats_table)),
        history=MySqlStatsHistory(database or shared_database()),
        cache=cache or build_stats_cache(settings),
        shards={"sms": SMS_TASKS, "chat": settings.chat_day_shards},
        timezone=settings.service_timezone,
        top_rooms=settings.stats_top_rooms,
    )


@cache
def stats_planner() -> StatsPlanner:
    return build_planner(get_settings(), clock=_current_clock)


@cache
def stats_aggregator() -> StatsAggregator:
    return build_aggregator(get_settings())


@cache
def sms_stats_counter() -> SmsStatsCounter:
    return build_counter(get_settings())


@cache
def stats_cache() -> StatsReadCache:
    """This execution environment's stats read cache (the publisher invalidates through it)."""
    return build_stats_cache(get_settings())


@cache
def stats_publisher() -> StatsPublisher:
    return build_publisher(get_settings(), cache=stats_cache())


def record_cache_metrics(read_cache: StatsReadCache) -> None:
    """Hand the cache's counts to Powertools Metrics: StatsCacheHit, StatsCacheMiss, ... (the
    handler's decorator flushes them)."""
    from aws_lambda_powertools.metrics import MetricUnit

    from courier.observability import metrics

    for name, value in sorted(read_cache.take_counts().items()):
        metric = "StatsCache" + "".join(part.title() for part in name.split("_"))
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)
