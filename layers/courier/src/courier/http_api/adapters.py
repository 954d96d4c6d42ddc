"""Reads for the HTTP API that no other adapter offers: a DailyStats item by day."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from courier.settings import Settings


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class DailyStatsReader:
    """The DailyStats table (key `date`) as the stats publisher writes it."""

    def __init__(self, table: Table) -> None:
        self._table = table

    @classmethod
    def from_settings(cls, settings: Settings) -> DailyStatsReader:
        from courier.dynamodb_tables import dynamodb_table

        return cls(dynamodb_table(settings, settings.stats_table))

    def get(self, day: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"date": day}).get("Item")
        if item is None:
            return None
        plain = _plain(dict(item))
        assert isinstance(plain, dict)
        return plain
