"""DynamoDB adapter for chat revocations: per user, the time before which tokens are refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from courier.settings import Settings


class RevocationList:
    """One item per revoked user (key `sub`): `revoked_at` and a TTL `expires_at`."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        # The low-level client, not a boto3 resource: the authorizer's cold start (see
        # courier.dynamodb_tables.dynamodb_client).
        self._client = client
        self._table_name = table_name

    @classmethod
    def from_settings(cls, settings: Settings) -> RevocationList:
        from courier.dynamodb_tables import dynamodb_client

        return cls(dynamodb_client(settings), settings.chat_revocations_table)

    def revoke(self, sub: str, *, revoked_at: int, expires_at: int) -> None:
        self._client.put_item(
            TableName=self._table_name,
            Item={
                "sub": {"S": sub},
                "revoked_at": {"N": str(revoked_at)},
                "expires_at": {"N": str(expires_at)},
            },
        )

    def revoked_at(self, sub: str) -> int | None:
        """When `sub` was last revoked (epoch seconds), or None."""
        # Strongly consistent: a revocation must hold from the moment it is written.
        item = self._client.get_item(
            TableName=self._table_name, Key={"sub": {"S": sub}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return None
        return int(item["revoked_at"]["N"])
