"""Opens the Redis (ElastiCache Valkey in AWS) client from settings, with the auth secret."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

    from courier.settings import Settings


def _password_from_secret(secret_arn: str) -> str:
    from aws_lambda_powertools.utilities.parameters import get_secret

    # Cached by Powertools for its default max_age, so a warm function does not refetch it.
    raw = str(get_secret(secret_arn))
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return raw
    return str(value["password"]) if isinstance(value, dict) else raw


def connect_redis(settings: Settings) -> redis.Redis:
    """A Redis client for `settings.redis_url`; the password comes from Secrets Manager when set."""
    import redis

    if not settings.redis_url:
        raise RuntimeError("REDIS_URL is not set; the shared SMS rate limiter needs Redis")
    password = (
        _password_from_secret(settings.redis_auth_secret_arn)
        if settings.redis_auth_secret_arn
        else None
    )
    return redis.Redis.from_url(
        settings.redis_url,
        password=password,
        socket_connect_timeout=2,
        socket_timeout=2,
        health_check_interval=30,
        decode_responses=False,
    )
