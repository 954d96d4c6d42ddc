"""Builds the SMS sender and its adapters from settings, once per Lambda execution environment."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING

from courier.settings import Settings, get_settings

if TYPE_CHECKING:
    from courier.rate_limit import RateLimiter
    from courier.sms.delivery import SmsSender
    from courier.sms.providers import SmsProvider
    from courier.sms.sqs_consumer import SqsJobConsumer


def build_rate_limiter(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> RateLimiter:
    """The provider's budget shared by every sender; within it, this sender's share if capped.

    Both live in Redis; while Redis is unreachable this instance falls back to the same buckets
    in memory at its fraction of each rate (see `Settings.sms_rate_limit_fallback_rate`).
    `clock` and `sleep` pace the in-memory side (the fault suite runs it on simulated time).
    """
    from courier.rate_limit import (
        AllOf,
        FallbackRateLimiter,
        LocalRateLimiter,
        RedisRateLimiter,
        Unlimited,
    )

    if settings.sms_rate_limit_mps <= 0:
        return Unlimited()
    from courier.redis_connection import connect_redis

    redis = connect_redis(settings)
    shared_key = f"{settings.sms_rate_limit_key}:{settings.sms_provider}"
    rates = {shared_key: settings.sms_rate_limit_mps}
    if settings.sms_rate_limit_share < 1:
        share_key = settings.sms_rate_limit_share_key or f"{shared_key}:share"
        # The narrower bucket first: its wait is spent before booking the shared slot.
        rates = {share_key: settings.sms_rate_limit_mps * settings.sms_rate_limit_share, **rates}
    fallback_share = settings.sms_rate_limit_fallback_rate / settings.sms_rate_limit_mps
    burst, wait = settings.sms_rate_limit_burst, settings.sms_rate_limit_max_wait_seconds
    shared = AllOf(
        *(
            RedisRateLimiter(redis, key=key, rate=rate, burst=burst, max_wait_seconds=wait)
            for key, rate in rates.items()
        )
    )
    fallback = AllOf(
        *(
            LocalRateLimiter(
                rate=rate * fallback_share,
                burst=burst,
                max_wait_seconds=wait,
                clock=clock,
                sleep=sleep,
            )
            for rate in rates.values()
        )
    )
    return FallbackRateLimiter(
        shared,
        fallback,
        fallback_rate=settings.sms_rate_limit_fallback_rate,
        retry_after_seconds=settings.sms_rate_limit_retry_after_seconds,
        clock=clock,
    )


def build_sender(
    settings: Settings,
    *,
    provider: SmsProvider | None = None,
    rate_limiter: RateLimiter | None = None,
    clock: Callable[[], datetime] | None = None,
) -> SmsSender:
    from courier.sms.delivery import SmsSender
    from courier.sms.job_claims import JobClaimStore
    from courier.sms.opt_out import OptOutList
    from courier.sms.phone_keys import phone_keys_from_settings
    from courier.sms.providers import build_provider
    from courier.sms.status_store import SmsStatusStore

    # One DynamoDB client for the job records (claims and statuses) and the opt-out list.
    status = SmsStatusStore.from_settings(settings)
    # Read once here, per execution environment (the consumer is built once).
    phone_keys = phone_keys_from_settings(settings)
    claims = JobClaimStore.from_settings(settings, status, phone_keys=phone_keys)
    return SmsSender(
        provider=provider or build_provider(settings),
        status=status,
        opt_outs=OptOutList.from_settings(settings),
        rate_limiter=rate_limiter or build_rate_limiter(settings),
        idempotency_store=claims,
        max_parts=settings.sms_max_parts,
        schedule_horizon=timedelta(days=settings.sms_schedule_horizon_days),
        idempotency_ttl_seconds=settings.sms_idempotency_ttl_seconds,
        in_progress_stale_seconds=settings.sms_in_progress_stale_seconds,
        phone_keys=phone_keys,
        **({"clock": clock} if clock is not None else {}),
    )


def build_consumer(settings: Settings, *, provider: SmsProvider | None = None) -> SqsJobConsumer:
    from courier.sms.queues import SqsQueues
    from courier.sms.sqs_consumer import SqsJobConsumer

    return SqsJobConsumer(
        build_sender(settings, provider=provider),
        SqsQueues.from_settings(settings),
        concurrency=settings.sms_send_concurrency,
        retry_base_seconds=settings.sms_retry_base_seconds,
        retry_max_seconds=settings.sms_retry_max_seconds,
        max_deferrals=settings.sms_max_deferrals,
    )


@cache
def sms_consumer() -> SqsJobConsumer:
    """The consumer for this execution environment (built on the first invocation)."""
    return build_consumer(get_settings())
