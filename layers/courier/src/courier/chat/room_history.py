"""Deleting a room's history on request: its stored messages and its recent list in Redis."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from courier.chat.message_store import MessageStore
    from courier.chat.presence import RoomState


@dataclass(frozen=True, slots=True)
class RoomHistorySize:
    room: str
    stored_messages: int  # items in the ChatMessages table
    recent_messages: int  # the newest ones Redis also keeps for fast history pages


def room_history_size(rooms: RoomState, messages: MessageStore, room: str) -> RoomHistorySize:
    """What `delete_room_history` would delete now (for a dry run)."""
    return RoomHistorySize(room, messages.count_room(room), rooms.recent_count(room))


def delete_room_history(rooms: RoomState, messages: MessageStore, room: str) -> RoomHistorySize:
    """Delete every message of `room`, in Redis and DynamoDB; returns what was deleted.

    Redis is cleared before and after the table: history pages then come from the table, and
    no page serves from Redis a message the table no longer holds. Members may keep talking
    meanwhile; a message sent while this runs may survive it in the table.
    """
    recent = rooms.recent_count(room)
    rooms.forget_recent(room)
    stored = messages.delete_room(room)
    rooms.forget_recent(room)
    return RoomHistorySize(room, stored, recent)
