"""Opens the Redis (ElastiCache Valkey in AWS) client from settings, with the auth secret."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

    from courier.settings import Settings


def connect_redis(
    settings: Settings, *, timeout_seconds: float = 2.0, retries: int = 1
) -> redis.Redis:
    """A Redis client for `settings.redis_url`; the password comes from Secrets Manager when set.

    `timeout_seconds` bounds connecting and each command, and `retries` how often a failed
    command is tried again: a cache that must never slow a read down asks for a short timeout
    and no retry (measured against a node that accepts and never answers, redis-py 8.1: one
    retry turns a 0.25 s timeout into ~1.1 s; none keeps it at ~0.25 s).
    """
    import redis
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set; the shared SMS rate limiter needs Redis")
    password = None
    if settings.redis_auth_secret_arn:
        from courier.secret_store import secret_value

        password = secret_value(settings.redis_auth_secret_arn, json_key="password")
    return redis.Redis.from_url(
        settings.redis_url,
        password=password,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        health_check_interval=30,
        # One quick retry (a dropped pooled connection), not redis-py's ten: with an unreachable
        # server each try costs the 2 s connect timeout, and callers fall back faster than that.
        retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), retries),
        decode_responses=False,
    )
