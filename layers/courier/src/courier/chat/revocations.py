"""DynamoDB adapter for chat revocations: per user, the time before which tokens are refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from courier.settings import Settings


class RevocationList:
    """One item per revoked user (key `sub`): `revoked_at` and a TTL `expires_at`."""

    def __init__(self, table: Table) -> None:
        self._table = table

    @classmethod
    def from_settings(cls, settings: Settings) -> RevocationList:
        from courier.dynamodb_tables import dynamodb_table

        return cls(dynamodb_table(settings, settings.chat_revocations_table))

    def revoke(self, sub: str, *, revoked_at: int, expires_at: int) -> None:
        self._table.put_item(Item={"sub": sub, "revoked_at": revoked_at, "expires_at": expires_at})

    def revoked_at(self, sub: str) -> int | None:
        """When `sub` was last revoked (epoch seconds), or None."""
        # Strongly consistent: a revocation must hold from the moment it is written.
        item = self._table.get_item(Key={"sub": sub}, ConsistentRead=True).get("Item")
        if item is None:
            return None
        return int(item["revoked_at"])  # type: ignore[arg-type]
