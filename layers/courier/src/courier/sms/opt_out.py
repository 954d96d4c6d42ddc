"""DynamoDB adapter for the opt-out list: numbers that must never receive a message."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from courier.dynamodb_tables import ClientTable
    from courier.settings import Settings


class OptOutList:
    def __init__(self, table: Table | ClientTable) -> None:
        self._table = table

    @classmethod
    def from_settings(cls, settings: Settings) -> OptOutList:
        from courier.dynamodb_tables import client_table

        return cls(client_table(settings, settings.sms_opt_out_table))

    def is_opted_out(self, phone_number: str) -> bool:
        item = self._table.get_item(
            Key={"phone_number": phone_number}, ProjectionExpression="phone_number"
        ).get("Item")
        return item is not None

    def opted_out_among(self, phone_numbers: list[str]) -> set[str]:
        """Which of the numbers are opted out (BatchGetItem, 100 numbers a call)."""
        from courier.dynamodb_tables import batch_get_strings

        items = batch_get_strings(self._table, "phone_number", phone_numbers, [])
        return {item["phone_number"] for item in items}

    def opt_out(self, phone_number: str, *, source: str) -> None:
        self._table.put_item(
            Item={
                "phone_number": phone_number,
                "source": source,
                "opted_out_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )

    def entry(self, phone_number: str) -> dict[str, str] | None:
        """The number's opt-out (`source`, `opted_out_at`), or None when it is not opted out."""
        item = self._table.get_item(Key={"phone_number": phone_number}, ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            return None
        return {k: str(v) for k, v in item.items() if k in {"source", "opted_out_at"}}

    def opt_in(self, phone_number: str) -> None:
        self._table.delete_item(Key={"phone_number": phone_number})
