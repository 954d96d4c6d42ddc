"""Builds the stats steps and their adapters from settings, once per execution environment."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from courier.settings import Settings, get_settings

if TYPE_CHECKING:
    from collections.abc import Callable

    from courier.stats.adapters import S3ObjectStore
    from courier.stats.planning import StatsPlanner
    from courier.stats.steps import StatsAggregator, StatsPublisher


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


def build_objects(settings: Settings) -> S3ObjectStore:
    from courier.stats.adapters import S3ObjectStore

    return S3ObjectStore(s3_client(settings), settings.stats_reports_bucket)


def build_planner(
    settings: Settings, *, clock: Callable[[], datetime] = system_clock
) -> StatsPlanner:
    from courier.stats.planning import StatsPlanner

    return StatsPlanner(
        sms_shards=settings.sms_day_shards,
        chat_shards=settings.chat_day_shards,
        timezone=settings.service_timezone,
        clock=clock,
        allow_open_day=settings.stats_allow_open_day,
        late_receipt_days=settings.stats_late_receipt_days,
    )


def build_aggregator(settings: Settings, *, page_size: int | None = None) -> StatsAggregator:
    from zoneinfo import ZoneInfo

    from courier.dynamodb_tables import dynamodb_table
    from courier.stats.adapters import DynamoDayShardPager
    from courier.stats.steps import StatsAggregator
    from courier.stats.tallies import CHAT_FIELDS, SMS_FIELDS

    return StatsAggregator(
        pagers={
            "sms": DynamoDayShardPager(
                dynamodb_table(settings, settings.sms_messages_table),
                fields=SMS_FIELDS,
                page_size=page_size,
            ),
            "chat": DynamoDayShardPager(
                dynamodb_table(settings, settings.chat_messages_table),
                fields=CHAT_FIELDS,
                page_size=page_size,
            ),
        },
        objects=build_objects(settings),
        zone=ZoneInfo(settings.service_timezone),
    )


def build_publisher(settings: Settings) -> StatsPublisher:
    from courier.dynamodb_tables import dynamodb_table
    from courier.stats.adapters import DynamoStatsTable
    from courier.stats.steps import StatsPublisher

    return StatsPublisher(
        objects=build_objects(settings),
        table=DynamoStatsTable(dynamodb_table(settings, settings.stats_table)),
        shards={"sms": settings.sms_day_shards, "chat": settings.chat_day_shards},
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
def stats_publisher() -> StatsPublisher:
    return build_publisher(get_settings())
