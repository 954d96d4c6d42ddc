"""A room's history page, the same for the WebSocket `history` action and the HTTP API.

The newest page comes from Redis when Redis holds a full page of it; older pages (and a newest
page Redis cannot fill) come from DynamoDB. A page fits in one WebSocket post, oldest first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from courier.chat.frames import MAX_EVENT_BYTES, HistoryEvent, Member, MessageEvent
from courier.chat.message_store import decode_cursor, encode_cursor, sort_key

if TYPE_CHECKING:
    from courier.chat.message_store import MessageStore, StoredMessage
    from courier.chat.presence import RoomState


def message_event(message: StoredMessage) -> MessageEvent:
    return MessageEvent(
        room=message.room,
        message_id=message.message_id,
        sender=Member(sub=message.sender_sub, name=message.sender_name),
        text=message.text,
        sent_at=message.sent_at,
        client_msg_id=message.client_msg_id,
    )


def history_page(
    rooms: RoomState, messages: MessageStore, room: str, *, cursor: str | None, limit: int
) -> HistoryEvent:
    """One page of `room` before `cursor` (the newest without one); BadCursor for a bad cursor."""
    before = decode_cursor(room, cursor) if cursor else None
    page: list[MessageEvent] | None = None
    more = False
    if before is None:
        recent = rooms.recent(room, limit)
        if len(recent) == limit:
            page = [MessageEvent.model_validate_json(raw) for raw in recent]
            more = True
    if page is None:
        stored, more = messages.page(room, before=before, limit=limit)
        page = [message_event(m) for m in stored]
    page, trimmed = fit_in_one_post(page)
    more = more or trimmed
    page.reverse()  # oldest first within a page; pages go back in time
    next_cursor = None
    if more and page:
        oldest = page[0]
        next_cursor = encode_cursor(room, sort_key(oldest.sent_at, oldest.message_id))
    return HistoryEvent(room=room, messages=page, next_cursor=next_cursor)


def fit_in_one_post(newest_first: list[MessageEvent]) -> tuple[list[MessageEvent], bool]:
    """As many of the newest messages as fit one post (API Gateway's 128 KB message limit)."""
    budget = MAX_EVENT_BYTES - 1024  # room for the envelope: type, room, cursor
    kept: list[MessageEvent] = []
    for message in newest_first:
        budget -= len(message.model_dump_json(exclude_none=True).encode()) + 1
        if budget < 0:
            return kept, True
        kept.append(message)
    return kept, False
