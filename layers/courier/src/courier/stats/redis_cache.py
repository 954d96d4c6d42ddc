"""The stats cache port on Redis (ElastiCache Valkey in AWS): single-key commands, errors mapped.

The client is opened lazily by a factory (`courier.redis_connection.connect_redis` with the
cache's short timeout), so a failure to open it (Secrets Manager, DNS) is one more cache error,
retried after the reader's back-off rather than breaking the function's start.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from courier.stats.read_cache import CacheUnavailable

if TYPE_CHECKING:
    import redis

# Compare-and-delete: release a lock only while it still holds this reader's token (one key).
_DELETE_IF = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class RedisStatsCache:
    """`StatsCache` on a redis-py client; every Redis error or timeout is CacheUnavailable."""

    def __init__(self, client: redis.Redis | Callable[[], redis.Redis]) -> None:
        self._factory = client if callable(client) else None
        self._client: redis.Redis | None = None if callable(client) else client
        self._guard = threading.Lock()
        self._delete_if: Any = None

    def _redis(self) -> redis.Redis:
        if self._client is not None:
            return self._client
        with self._guard:
            if self._client is None:
                assert self._factory is not None
                try:
                    self._client = self._factory()
                except Exception as error:  # whatever opening it raised: the cache is down
                    raise CacheUnavailable(f"cannot open the cache client: {error}") from error
            return self._client

    def _run(self, command: Callable[[redis.Redis], Any]) -> Any:
        import redis

        client = self._redis()
        try:
            return command(client)
        except redis.RedisError as error:  # ConnectionError and TimeoutError included
            raise CacheUnavailable(f"{type(error).__name__}: {error}") from error

    def get(self, key: str) -> bytes | None:
        value: bytes | None = self._run(lambda client: client.get(key))
        return value

    def set(self, key: str, value: bytes, *, ttl_ms: int | None) -> None:
        self._run(lambda client: client.set(key, value, px=ttl_ms))

    def add(self, key: str, value: bytes, *, ttl_ms: int | None) -> bool:
        return bool(self._run(lambda client: client.set(key, value, px=ttl_ms, nx=True)))

    def delete_if(self, key: str, value: bytes) -> None:
        def run(client: redis.Redis) -> Any:
            if self._delete_if is None:
                self._delete_if = client.register_script(_DELETE_IF)
            return self._delete_if(keys=[key], args=[value])

        self._run(run)
