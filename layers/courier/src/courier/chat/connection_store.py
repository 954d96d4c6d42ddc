"""DynamoDB adapter for the Connections table: who holds each open WebSocket connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from courier.chat.presence import Session

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from courier.settings import Settings


class ConnectionStore:
    """Durable record of each connection; its TTL (`expires_at`) outlives API Gateway's 2 hours."""

    def __init__(self, table: Table) -> None:
        self._table = table

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionStore:
        from courier.dynamodb_tables import dynamodb_table

        return cls(dynamodb_table(settings, settings.chat_connections_table))

    def put(self, session: Session, *, connected_at: str, expires_at: int) -> None:
        self._table.put_item(
            Item={
                "connection_id": session.connection_id,
                "sub": session.sub,
                "name": session.name,
                "rooms": list(session.room_patterns),
                "connected_at": connected_at,
                "expires_at": expires_at,
            }
        )

    def get(self, connection_id: str) -> Session | None:
        item = self._table.get_item(Key={"connection_id": connection_id}).get("Item")
        if item is None:
            return None
        return Session(
            connection_id=connection_id,
            sub=str(item["sub"]),
            name=str(item["name"]),
            room_patterns=tuple(str(r) for r in item.get("rooms", [])),  # type: ignore[union-attr]
        )

    def delete(self, connection_id: str) -> None:
        self._table.delete_item(Key={"connection_id": connection_id})
