"""DynamoDB adapter for ChatMessages: every message, paged per room, day-sharded for stats."""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from courier.settings import Settings


class BadCursor(ValueError):
    """A history cursor we did not issue (or from another room)."""


def sort_key(sent_at: datetime, message_id: str) -> str:
    """The message's place in its room: time first, id to break ties."""
    return f"{sent_at.isoformat(timespec='microseconds')}#{message_id}"


def encode_cursor(room: str, before: str) -> str:
    raw = json.dumps({"v": 1, "room": room, "before": before}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(room: str, cursor: str) -> str:
    """The sort key the next page starts below; BadCursor when it is not ours for this room."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise BadCursor("cursor is not one this service issued") from error
    if not isinstance(data, dict) or data.get("v") != 1 or data.get("room") != room:
        raise BadCursor("cursor is not one this service issued for this room")
    before = data.get("before")
    if not isinstance(before, str) or not before:
        raise BadCursor("cursor is not one this service issued")
    return before


@dataclass(frozen=True, slots=True)
class StoredMessage:
    room: str
    message_id: str
    sender_sub: str
    sender_name: str
    text: str
    sent_at: datetime
    client_msg_id: str | None

    @property
    def sort_key(self) -> str:
        return sort_key(self.sent_at, self.message_id)


class MessageStore:
    """Item shape (private here): `pk = ROOM#<room>`, `sk = <time>#<id>` for newest-first pages;
    `day_shard = <day>#<NN>` and `sk_time` feed the `by_day_shard` index the stats batch reads;
    `expires_at` (epoch seconds, the send time plus the retention) is the table's TTL."""

    def __init__(
        self, table: Table, *, day_shards: int, timezone: str, retention_days: int
    ) -> None:
        self._table = table
        self._day_shards = day_shards
        self._tz = ZoneInfo(timezone)
        self._retention = timedelta(days=retention_days)

    @classmethod
    def from_settings(cls, settings: Settings) -> MessageStore:
        from courier.dynamodb_tables import dynamodb_table

        return cls(
            dynamodb_table(settings, settings.chat_messages_table),
            day_shards=settings.chat_day_shards,
            timezone=settings.service_timezone,
            retention_days=settings.chat_message_retention_days,
        )

    def append(self, message: StoredMessage) -> None:
        day = message.sent_at.astimezone(self._tz).date().isoformat()
        shard = zlib.crc32(message.message_id.encode()) % self._day_shards
        item: dict[str, Any] = {
            "pk": f"ROOM#{message.room}",
            "sk": message.sort_key,
            "room": message.room,
            "message_id": message.message_id,
            "sender_sub": message.sender_sub,
            "sender_name": message.sender_name,
            "text": message.text,
            "sent_at": message.sent_at.isoformat(timespec="microseconds"),
            "day": day,
            "day_shard": f"{day}#{shard:02d}",
            "sk_time": f"{message.sort_key}#{message.room}",
            # DynamoDB's TTL deletes the item once the retention has passed.
            "expires_at": int((message.sent_at + self._retention).timestamp()),
        }
        if message.client_msg_id:
            item["client_msg_id"] = message.client_msg_id
        self._table.put_item(Item=item)

    def page(
        self, room: str, *, before: str | None, limit: int
    ) -> tuple[list[StoredMessage], bool]:
        """Up to `limit` messages older than `before` (newest first) and whether more remain."""
        key = "#pk = :pk AND #sk < :before" if before else "#pk = :pk"
        values: dict[str, Any] = {":pk": f"ROOM#{room}"}
        if before:
            values[":before"] = before
        response = self._table.query(
            KeyConditionExpression=key,
            ExpressionAttributeNames={"#pk": "pk", "#sk": "sk"} if before else {"#pk": "pk"},
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            Limit=limit + 1,
        )
        items = response.get("Items", [])
        messages = [
            StoredMessage(
                room=str(item["room"]),
                message_id=str(item["message_id"]),
                sender_sub=str(item["sender_sub"]),
                sender_name=str(item["sender_name"]),
                text=str(item["text"]),
                sent_at=datetime.fromisoformat(str(item["sent_at"])),
                client_msg_id=str(item["client_msg_id"]) if "client_msg_id" in item else None,
            )
            for item in items[:limit]
        ]
        return messages, len(items) > limit

    def find(self, room: str, message_id: str, around: datetime) -> StoredMessage | None:
        """The stored message `message_id` of `room`, sent within a second of `around`.

        Message ids start with their send time (channel.new_message_id), so one key-range
        query of two seconds finds it, instead of reading the whole room.
        """
        low = (around - timedelta(seconds=1)).isoformat(timespec="microseconds")
        high = (around + timedelta(seconds=1)).isoformat(timespec="microseconds")
        query: dict[str, Any] = {
            "KeyConditionExpression": "#pk = :pk AND #sk BETWEEN :low AND :high",
            "FilterExpression": "#id = :id",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk", "#id": "message_id"},
            "ExpressionAttributeValues": {
                ":pk": f"ROOM#{room}",
                ":low": low,
                ":high": high + "~",
                ":id": message_id,
            },
            "ConsistentRead": True,
        }
        while True:
            response = self._table.query(**query)
            for item in response.get("Items", []):
                return StoredMessage(
                    room=str(item["room"]),
                    message_id=str(item["message_id"]),
                    sender_sub=str(item["sender_sub"]),
                    sender_name=str(item["sender_name"]),
                    text=str(item["text"]),
                    sent_at=datetime.fromisoformat(str(item["sent_at"])),
                    client_msg_id=str(item["client_msg_id"]) if "client_msg_id" in item else None,
                )
            if "LastEvaluatedKey" not in response:
                return None
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete(self, message: StoredMessage) -> None:
        """Delete one stored message (history pages page by key, so a gap is harmless)."""
        self._table.delete_item(Key={"pk": f"ROOM#{message.room}", "sk": message.sort_key})

    def count_room(self, room: str) -> int:
        """How many messages of `room` are stored (DynamoDB counts; no item is returned)."""
        query: dict[str, Any] = {
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": "pk"},
            "ExpressionAttributeValues": {":pk": f"ROOM#{room}"},
            "Select": "COUNT",
        }
        count = 0
        while True:
            response = self._table.query(**query)
            count += int(response.get("Count", 0))
            if "LastEvaluatedKey" not in response:
                return count
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete_room(self, room: str) -> int:
        """Delete every stored message of `room`; returns how many were deleted."""
        deleted = 0
        with self._table.batch_writer() as batch:
            for key in self._room_keys(room):
                batch.delete_item(Key=key)
                deleted += 1
        return deleted

    def _room_keys(self, room: str) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] = {
            "KeyConditionExpression": "#pk = :pk",
            "ProjectionExpression": "#pk, #sk",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
            "ExpressionAttributeValues": {":pk": f"ROOM#{room}"},
        }
        while True:
            response = self._table.query(**query)
            yield from ({"pk": item["pk"], "sk": item["sk"]} for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
