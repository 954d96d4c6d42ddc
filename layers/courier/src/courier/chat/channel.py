"""The chat channel's rules: who may join, send and read a room, and who hears about it.

The domain never sees API Gateway events: handlers give it a connection id and a parsed frame,
and it answers through the fan-out (to one connection or to a room's members).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from courier.chat.frames import (
    AckEvent,
    ErrorCode,
    ErrorEvent,
    HistoryFrame,
    JoinedEvent,
    JoinFrame,
    LeaveFrame,
    LeftEvent,
    Member,
    PingFrame,
    PongEvent,
    PresenceEvent,
    SendFrame,
    ServerEvent,
    encode_event,
)
from courier.chat.history import history_page, message_event
from courier.chat.message_store import BadCursor, StoredMessage
from courier.chat.presence import Session
from courier.chat.room_access import may_access
from courier.observability import logger
from courier.rate_limit import RateLimitExceeded

if TYPE_CHECKING:
    from courier.chat.connection_store import ConnectionStore
    from courier.chat.fanout import Fanout, FanoutResult
    from courier.chat.frames import ClientFrame
    from courier.chat.message_store import MessageStore
    from courier.chat.presence import RoomState
    from courier.rate_limit import RateLimiter


def new_message_id(now: datetime) -> str:
    """Sortable by time (milliseconds, hex) then random: unique without coordination."""
    return f"{int(now.timestamp() * 1000):012x}{secrets.token_hex(5)}"


MESSAGE_ID_PATTERN = r"^[0-9a-f]{22}$"


def message_id_time(message_id: str) -> datetime:
    """When a `new_message_id` id was made (its first 12 hex digits); ValueError otherwise."""
    if len(message_id) != 22:
        raise ValueError("not a chat message id")
    return datetime.fromtimestamp(int(message_id[:12], 16) / 1000, UTC)


class ChatChannel:
    """Connections, rooms and messages, with the counts the metrics report."""

    def __init__(
        self,
        *,
        rooms: RoomState,
        connections: ConnectionStore,
        messages: MessageStore,
        fanout: Fanout,
        send_limiter: Callable[[str], RateLimiter],
        connection_ttl: timedelta,
        client_msg_id_ttl_seconds: int,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._rooms = rooms
        self._connections = connections
        self._messages = messages
        self._fanout = fanout
        self._send_limiter = send_limiter
        self._connection_ttl = connection_ttl
        self._client_msg_ttl = client_msg_id_ttl_seconds
        self._clock = clock
        self.counts: dict[str, int] = {}

    def _count(self, name: str, value: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + value

    # -- connection lifecycle ---------------------------------------------------------------
    def open(self, session: Session) -> None:
        now = self._clock()
        expires_at = int((now + self._connection_ttl).timestamp())
        self._connections.put(
            session, connected_at=now.isoformat(timespec="seconds"), expires_at=expires_at
        )
        self._rooms.open_session(session, expires_at=expires_at)
        self._count("ConnectionsOpened")

    def close(self, connection_id: str) -> None:
        """Remove the connection everywhere and tell the rooms it was in."""
        session = self._session(connection_id)
        rooms = self._rooms.close_session(connection_id)
        self._connections.delete(connection_id)
        self._count("ConnectionsClosed")
        if session is not None:
            for room in rooms:
                self._broadcast(room, LeftEvent(room=room, member=_member(session)))

    def sweep(self) -> int:
        """Forget connections whose expiry passed without a $disconnect; returns how many."""
        now = int(self._clock().timestamp())
        swept = 0
        while stale := self._rooms.expired_connections(now, limit=500):
            for connection_id in stale:
                self._rooms.close_session(connection_id)
                self._connections.delete(connection_id)
            swept += len(stale)
        self._count("ConnectionsSwept", swept)
        return swept

    # -- frames -------------------------------------------------------------------------------
    def handle(self, connection_id: str, frame: ClientFrame) -> None:
        """Answer one frame; a failure answers `internal_error` and the connection lives on."""
        try:
            self._handle(connection_id, frame)
        except Exception:
            # Logged by action and connection only: the frame may hold a message text.
            logger.exception(
                "chat frame failed",
                extra={"action": frame.action, "connection_id": connection_id},
            )
            self._count("InternalErrors")
            self._reply_internal_error(connection_id, frame.action)

    def _reply_internal_error(self, connection_id: str, action: str) -> None:
        error = ErrorEvent(
            code=ErrorCode.INTERNAL_ERROR, reason="the server failed; retry later", action=action
        )
        try:
            self.reply(connection_id, error)
        except Exception:
            # The reply needs Redis only to prune a gone connection; nothing more to do here.
            logger.exception("chat internal_error reply failed")

    def _handle(self, connection_id: str, frame: ClientFrame) -> None:
        session = self._session(connection_id)
        if session is None:
            # Redis and the table both forgot it: the connection was swept or pruned.
            self.reply(
                connection_id, ErrorEvent(code=ErrorCode.FORBIDDEN, reason="unknown connection")
            )
            return
        if isinstance(frame, PingFrame):
            self.reply(connection_id, PongEvent(at=self._clock()))
            return
        if not may_access(session.room_patterns, frame.room):
            self.reply(
                connection_id,
                ErrorEvent(
                    code=ErrorCode.FORBIDDEN,
                    reason=f"your token does not cover room {frame.room!r}",
                    action=frame.action,
                ),
            )
            return
        if isinstance(frame, JoinFrame):
            self._join(session, frame.room)
        elif isinstance(frame, LeaveFrame):
            self._leave(session, frame.room)
        elif isinstance(frame, SendFrame):
            self._send(session, frame)
        elif isinstance(frame, HistoryFrame):
            self._history(session, frame)

    def _join(self, session: Session, room: str) -> None:
        added = self._rooms.join(room, session.connection_id)
        members = self._rooms.sessions(self._rooms.members(room))
        unique = {s.sub: _member(s) for s in members}
        self.reply(
            session.connection_id,
            PresenceEvent(room=room, members=sorted(unique.values(), key=lambda m: m.sub)),
        )
        if added:
            self._broadcast(
                room, JoinedEvent(room=room, member=_member(session)), exclude=session.connection_id
            )

    def _leave(self, session: Session, room: str) -> None:
        if self._rooms.leave(room, session.connection_id):
            event = LeftEvent(room=room, member=_member(session))
            self.reply(session.connection_id, event)
            self._broadcast(room, event)

    def _send(self, session: Session, frame: SendFrame) -> None:
        cid = session.connection_id
        if not self._rooms.is_member(frame.room, cid):
            self.reply(
                cid,
                ErrorEvent(code=ErrorCode.NOT_JOINED, reason="join the room first", action="send"),
            )
            return
        try:
            self._send_limiter(cid).acquire(1)
        except RateLimitExceeded as limit:
            self.reply(
                cid,
                ErrorEvent(
                    code=ErrorCode.RATE_LIMITED,
                    reason=f"too many messages; retry in {limit.wait_seconds:.1f}s",
                    action="send",
                ),
            )
            return
        now = self._clock()
        message_id = new_message_id(now)
        earlier = self._rooms.claim_client_message(
            session.sub, frame.client_msg_id, message_id, ttl_seconds=self._client_msg_ttl
        )
        if earlier is not None:
            # A retry of a send we already broadcast: acknowledge it again, broadcast nothing.
            self.reply(
                cid,
                AckEvent(
                    room=frame.room,
                    client_msg_id=frame.client_msg_id,
                    message_id=earlier,
                    sent_at=now,
                    duplicate=True,
                ),
            )
            self._count("DuplicateSends")
            return
        stored = StoredMessage(
            room=frame.room,
            message_id=message_id,
            sender_sub=session.sub,
            sender_name=session.name,
            text=frame.text,
            sent_at=now,
            client_msg_id=frame.client_msg_id,
        )
        try:
            self._messages.append(stored)
        except BaseException:
            # Not stored: its retry must be a new send, never acknowledged as this one.
            self._release_claim(session.sub, frame.client_msg_id, message_id)
            raise
        event = _message_event(stored)
        self._rooms.push_recent(frame.room, event.model_dump_json())
        self._count("MessagesSent")
        self._broadcast(frame.room, event, exclude=cid)
        self.reply(
            cid,
            AckEvent(
                room=frame.room,
                client_msg_id=frame.client_msg_id,
                message_id=message_id,
                sent_at=now,
                duplicate=False,
            ),
        )

    def _release_claim(self, sub: str, client_msg_id: str, message_id: str) -> None:
        try:
            self._rooms.release_client_message(sub, client_msg_id, message_id)
        except Exception:
            # Redis failed too: the claim expires with its TTL; the store's error is the news.
            logger.exception("chat client_msg_id release failed")

    def _history(self, session: Session, frame: HistoryFrame) -> None:
        try:
            event = history_page(
                self._rooms, self._messages, frame.room, cursor=frame.cursor, limit=frame.limit
            )
        except BadCursor as error:
            self.reply(
                session.connection_id,
                ErrorEvent(code=ErrorCode.INVALID_FRAME, reason=str(error), action="history"),
            )
            return
        self.reply(session.connection_id, event)

    # -- output -------------------------------------------------------------------------------
    def reply(self, connection_id: str, event: ServerEvent) -> None:
        self._deliver([connection_id], event)

    def _broadcast(self, room: str, event: ServerEvent, *, exclude: str | None = None) -> None:
        targets = [cid for cid in self._rooms.members(room) if cid != exclude]
        self._deliver(targets, event)

    def _deliver(self, targets: list[str], event: ServerEvent) -> FanoutResult:
        result = self._fanout.send(targets, encode_event(event))
        self._count("Deliveries", result.delivered)
        for connection_id in result.gone:
            # A 410 means the client is gone for good: forget it before it is posted to again.
            self._rooms.close_session(connection_id)
            self._connections.delete(connection_id)
        self._count("ConnectionsPruned", len(result.gone))
        if result.failed:
            # The fan-out logged each failed connection with its error code.
            self._count("DeliveryFailures", len(result.failed))
        return result

    def _session(self, connection_id: str) -> Session | None:
        session = self._rooms.session(connection_id)
        if session is None:
            # Redis lost it (eviction, failover): the table still knows the connection.
            session = self._connections.get(connection_id)
        return session


def _member(session: Session) -> Member:
    return Member(sub=session.sub, name=session.name)


_message_event = message_event
