"""The adapters the routes use, built from settings once per execution environment."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from courier.admin.audit import AuditLog
    from courier.admin.identity import AdminTokenVerifier
    from courier.campaigns.service import CampaignService
    from courier.campaigns.store import MySqlCampaignStore
    from courier.chat.access import ChatAccess
    from courier.chat.message_store import MessageStore
    from courier.chat.presence import RoomState
    from courier.chat.revocations import RevocationList
    from courier.http_api.adapters import DailyStatsReader
    from courier.settings import Settings
    from courier.sms.dead_letter_queues import SqsDeadLetterQueue
    from courier.sms.dead_letters import QueueKind
    from courier.sms.job_records import TableJobHistory
    from courier.sms.opt_out import OptOutList
    from courier.sms.phone_keys import PhoneKeys
    from courier.sms.producer import SmsProducer
    from courier.sms.status_store import SmsStatusStore
    from courier.stats.read_cache import CachedDailyStats, CachedStatsHistory, StatsReadCache


@cache
def producer(settings: Settings) -> SmsProducer:
    from courier.sms.producer import SmsProducer

    return SmsProducer.from_settings(settings)


@cache
def status_store(settings: Settings) -> SmsStatusStore:
    from courier.sms.status_store import SmsStatusStore

    return SmsStatusStore.from_settings(settings)


@cache
def stats_reader(settings: Settings) -> DailyStatsReader:
    from courier.http_api.adapters import DailyStatsReader

    return DailyStatsReader.from_settings(settings)


@cache
def stats_cache(settings: Settings) -> StatsReadCache:
    """The shared stats read cache (Redis at REDIS_URL; off without it)."""
    from courier.stats.wiring import build_stats_cache

    return build_stats_cache(settings)


def cached_stats_reader(settings: Settings) -> CachedDailyStats:
    """A day's DailyStats item, through the stats read cache."""
    from courier.stats.read_cache import CachedDailyStats

    return CachedDailyStats(stats_reader(settings), stats_cache(settings))


@cache
def stats_history(settings: Settings) -> CachedStatsHistory:
    """The stats history's ranges (the Aurora reader), through the stats read cache."""
    from courier.data.connections import shared_database
    from courier.stats.history_store import MySqlStatsHistory
    from courier.stats.read_cache import CachedStatsHistory

    return CachedStatsHistory(MySqlStatsHistory(shared_database()), stats_cache(settings))


@cache
def room_state(settings: Settings) -> RoomState:
    from courier.chat.presence import RoomState
    from courier.redis_connection import connect_redis

    return RoomState(connect_redis(settings), recent_limit=settings.chat_history_recent)


@cache
def message_store(settings: Settings) -> MessageStore:
    from courier.chat.message_store import MessageStore

    return MessageStore.from_settings(settings)


def chat_access(settings: Settings) -> ChatAccess:
    # Not cached: the secret comes through Powertools' cache, so a rotation is picked up.
    from courier.chat.access import chat_access_from_settings

    return chat_access_from_settings(settings)


def admin_verifier(settings: Settings) -> AdminTokenVerifier:
    # Cached inside courier.admin.identity: the pool's keys stay for the execution environment.
    from courier.admin.identity import verifier_from_settings

    return verifier_from_settings(settings)


@cache
def audit_log(settings: Settings) -> AuditLog:
    from courier.admin.audit import AuditLog
    from courier.admin.audit_store import MySqlAuditStore
    from courier.data.connections import shared_database

    return AuditLog(MySqlAuditStore(shared_database()))


# -- The admin API's adapters -----------------------------------------------------------------


@cache
def opt_outs(settings: Settings) -> OptOutList:
    from courier.sms.opt_out import OptOutList

    return OptOutList.from_settings(settings)


@cache
def phone_keys(settings: Settings) -> PhoneKeys | None:
    """The keyed hash of numbers (read once per execution environment); None if unconfigured."""
    from courier.sms.phone_keys import phone_keys_from_settings

    return phone_keys_from_settings(settings)


@cache
def revocations(settings: Settings) -> RevocationList:
    from courier.chat.revocations import RevocationList

    return RevocationList.from_settings(settings)


@cache
def job_history(settings: Settings) -> TableJobHistory:
    """The redrive's view of a job (status and idempotency records), as `sms dlq` builds it."""
    from courier.sms.job_records import TableJobHistory

    return TableJobHistory.from_settings(settings)


def dead_letter_queue(settings: Settings, kind: QueueKind) -> SqsDeadLetterQueue:
    """One DLQ and its source queue (ValueError when their URLs are not configured)."""
    from courier.sms.dead_letter_queues import SqsDeadLetterQueue

    # Listed messages are held this long at most; each is released right after the scan.
    return SqsDeadLetterQueue.from_settings(settings, kind, visibility_seconds=30)


# -- Campaigns ------------------------------------------------------------------------------------


def campaign_store(settings: Settings) -> MySqlCampaignStore:
    from courier.campaigns.store import MySqlCampaignStore
    from courier.data.connections import shared_database

    return MySqlCampaignStore(shared_database())


@cache
def campaign_service(settings: Settings) -> CampaignService:
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from courier.campaigns.launch_queue import SqsLaunchQueue
    from courier.campaigns.service import CampaignRules, CampaignService

    return CampaignService(
        campaign_store(settings),
        audit_log(settings),
        SqsLaunchQueue.from_settings(settings),
        opt_outs(settings).opted_out_among,
        status_store(settings).statuses,
        CampaignRules(
            price_per_part=Decimal(settings.campaign_price_per_part),
            max_parts=settings.sms_max_parts,
            horizon=timedelta(days=settings.sms_schedule_horizon_days),
        ),
        clock=lambda: datetime.now(UTC),
    )
