"""Redis adapter for live chat state: sessions, room membership, recent history, retries, expiry."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis


def _text(value: Any) -> str:
    """Redis answers bytes (decode_responses is off: the SMS limiter shares the client)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _session_from(connection_id: str, data: dict[Any, Any]) -> Session:
    return Session(
        connection_id=connection_id,
        sub=_text(data[b"sub"]),
        name=_text(data[b"name"]),
        room_patterns=tuple(json.loads(data[b"rooms"])),
    )


@dataclass(frozen=True, slots=True)
class Session:
    """Who is behind a connection, as the authorizer vouched for at $connect."""

    connection_id: str
    sub: str
    name: str
    room_patterns: tuple[str, ...]


class RoomState:
    """Room sets, per-connection sessions and each room's recent messages, in Redis.

    Every key holds one room or one connection, and every command names one key: pipelines
    here are never transactions, and a connection's two keys (its session and its rooms) hash
    to different slots, so they are deleted by two DELs. ElastiCache Serverless runs in cluster
    mode, where a command over keys in two slots fails with CROSSSLOT; the integration tests
    run on a cluster-mode redis-server and check every command this class sends
    (tests/integration/test_chat_presence_slots.py).
    """

    def __init__(self, client: redis.Redis, *, recent_limit: int, prefix: str = "chat") -> None:
        self._redis = client
        self._recent_limit = recent_limit
        self._p = prefix

    # -- keys ---------------------------------------------------------------------------------
    def _session_key(self, connection_id: str) -> str:
        return f"{self._p}:conn:{connection_id}"

    def _joined_key(self, connection_id: str) -> str:
        return f"{self._p}:conn:{connection_id}:rooms"

    def _members_key(self, room: str) -> str:
        return f"{self._p}:room:{room}:members"

    def _recent_key(self, room: str) -> str:
        return f"{self._p}:room:{room}:recent"

    def _expiry_key(self) -> str:
        return f"{self._p}:connections:expiry"

    def _sent_key(self, sub: str, client_msg_id: str) -> str:
        return f"{self._p}:sent:{sub}:{client_msg_id}"

    # -- sessions -------------------------------------------------------------------------
    def open_session(self, session: Session, *, expires_at: int) -> None:
        key = self._session_key(session.connection_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(
            key,
            mapping={
                "sub": session.sub,
                "name": session.name,
                "rooms": json.dumps(list(session.room_patterns)),
            },
        )
        pipe.expireat(key, expires_at)
        pipe.zadd(self._expiry_key(), {session.connection_id: expires_at})
        pipe.execute()

    def session(self, connection_id: str) -> Session | None:
        data: dict[Any, Any] = self._redis.hgetall(self._session_key(connection_id))
        return _session_from(connection_id, data) if data else None

    def close_session(self, connection_id: str) -> list[str]:
        """Forget a connection everywhere; returns the rooms it had joined."""
        joined = sorted(_text(m) for m in self._redis.smembers(self._joined_key(connection_id)))
        pipe = self._redis.pipeline(transaction=False)
        for room in joined:
            pipe.srem(self._members_key(room), connection_id)
        # One DEL per key: the two keys hash to different slots (CROSSSLOT in cluster mode).
        pipe.delete(self._joined_key(connection_id))
        pipe.delete(self._session_key(connection_id))
        pipe.zrem(self._expiry_key(), connection_id)
        pipe.execute()
        return joined

    def expired_connections(self, now: int, *, limit: int = 500) -> list[str]:
        """Connections past their expiry ($disconnect is best-effort, so some are left behind)."""
        ids = self._redis.zrangebyscore(self._expiry_key(), "-inf", now, start=0, num=limit)
        return [_text(i) for i in ids]

    # -- membership ---------------------------------------------------------------------------
    def join(self, room: str, connection_id: str) -> bool:
        """Add the connection to the room; False when it was already a member."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.sadd(self._members_key(room), connection_id)
        pipe.sadd(self._joined_key(connection_id), room)
        added, _ = pipe.execute()
        return bool(added)

    def leave(self, room: str, connection_id: str) -> bool:
        pipe = self._redis.pipeline(transaction=False)
        pipe.srem(self._members_key(room), connection_id)
        pipe.srem(self._joined_key(connection_id), room)
        removed, _ = pipe.execute()
        return bool(removed)

    def is_member(self, room: str, connection_id: str) -> bool:
        return bool(self._redis.sismember(self._members_key(room), connection_id))

    def members(self, room: str) -> list[str]:
        """The room's connection ids: the only set a fan-out reads."""
        return [_text(m) for m in self._redis.smembers(self._members_key(room))]

    def sessions(self, connection_ids: list[str]) -> list[Session]:
        pipe = self._redis.pipeline(transaction=False)
        for connection_id in connection_ids:
            pipe.hgetall(self._session_key(connection_id))
        found = []
        for connection_id, data in zip(connection_ids, pipe.execute(), strict=True):
            if data:
                found.append(_session_from(connection_id, data))
        return found

    # -- recent history -----------------------------------------------------------------------
    def push_recent(self, room: str, message_json: str) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.lpush(self._recent_key(room), message_json)
        pipe.ltrim(self._recent_key(room), 0, self._recent_limit - 1)
        pipe.execute()

    def recent(self, room: str, count: int) -> list[str]:
        """Up to `count` newest messages, newest first."""
        return [_text(m) for m in self._redis.lrange(self._recent_key(room), 0, count - 1)]

    def recent_count(self, room: str) -> int:
        return int(self._redis.llen(self._recent_key(room)))

    def forget_recent_message(self, room: str, message_id: str) -> int:
        """Drop one message from the room's recent history; how many copies were removed."""
        removed = 0
        for raw in self.recent(room, self._recent_limit):
            if json.loads(raw).get("message_id") == message_id:
                removed += int(self._redis.lrem(self._recent_key(room), 0, raw))
        return removed

    def forget_recent(self, room: str) -> None:
        """Drop the room's recent history (its stored history is deleted separately)."""
        self._redis.delete(self._recent_key(room))

    # -- retried sends ------------------------------------------------------------------------
    def claim_client_message(
        self, sub: str, client_msg_id: str, message_id: str, *, ttl_seconds: int
    ) -> str | None:
        """Record `message_id` for this client message; the id already recorded for a retry."""
        key = self._sent_key(sub, client_msg_id)
        if self._redis.set(key, message_id, nx=True, ex=ttl_seconds):
            return None
        existing = self._redis.get(key)
        return _text(existing) if existing is not None else None

    def release_client_message(self, sub: str, client_msg_id: str, message_id: str) -> None:
        """Undo a claim whose message was not stored, unless another send holds it by now."""
        # Compare and delete in one step (one key, so cluster-safe): a plain DEL could drop a
        # claim a concurrent retry made after ours expired.
        self._redis.eval(_RELEASE_IF_OURS, 1, self._sent_key(sub, client_msg_id), message_id)


_RELEASE_IF_OURS = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
