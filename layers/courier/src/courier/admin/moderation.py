"""Chat moderation for the admin console: delete one message, revoke a user's chat tokens.

Each action returns what it changed (before and after) for the audit log. A deleted message is
removed, not marked: history pages are cut by sort key (cursors name a key, not an offset), so
a gap never shifts or repeats a page, and a removed text is really gone. The audit entry keeps
who sent it, when, and its length, never the text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from courier.admin.changes import Change
from courier.chat.access import revoke_user
from courier.chat.channel import message_id_time

if TYPE_CHECKING:
    from courier.chat.message_store import MessageStore
    from courier.chat.presence import RoomState
    from courier.chat.revocations import RevocationList


class MessageNotFound(LookupError):
    """No stored message of that id in that room."""


def delete_message(rooms: RoomState, messages: MessageStore, room: str, message_id: str) -> Change:
    """Delete `message_id` from the room's stored history and its Redis recent list.

    Redis is cleared before and after the table (as delete_room_history does): a history page
    never serves from Redis a message the table no longer holds. MessageNotFound (and nothing
    deleted) when the table has no such message; ValueError for an id this service never made.
    """
    stored = messages.find(room, message_id, message_id_time(message_id))
    if stored is None:
        raise MessageNotFound(f"room {room} has no stored message {message_id}")
    recent = rooms.forget_recent_message(room, message_id)
    messages.delete(stored)
    recent += rooms.forget_recent_message(room, message_id)
    before = {
        "room": room,
        "message_id": message_id,
        "sender_sub": stored.sender_sub,
        "sender_name": stored.sender_name,
        "sent_at": stored.sent_at.isoformat(),
        "text_chars": len(stored.text),
        "in_recent_history": recent > 0,
    }
    return Change(before=before, after=None)


def revoke_chat_tokens(
    revocations: RevocationList,
    sub: str,
    *,
    max_token_age_seconds: int,
    now: datetime | None = None,
) -> Change:
    """Refuse every chat token (and ticket) `sub` holds now; the previous and new revocation."""
    previous = revocations.revoked_at(sub)
    revoked = revoke_user(
        revocations, sub, max_token_age_seconds=max_token_age_seconds, now=now or datetime.now(UTC)
    )
    return Change(
        before={"revoked_at": _iso(previous)} if previous is not None else None,
        after={"revoked_at": revoked.isoformat()},
    )


def _iso(epoch_seconds: int) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat()
