"""DynamoDB adapter for the SMS stats partials (SmsStatsPartials): the stream counter's writes and
the stats batch's reads of one day.

Items (private to this adapter), all with TTL `expires_at` (write time + SMS_STATUS_TTL_DAYS, so
a partial outlives the status records it counted):

    pk = DAY#<YYYY-MM-DD>, sk = <batch>    delta (compact JSON, signed), records
    pk = BATCH#<batch>,    sk = DAYS       days (the days attempts of the batch may have written)

`<batch>` is the `eventID` of the batch's first stream record. A partial is a few hundred bytes:
one write unit a put.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from courier.stats.errors import raise_if_transient
from courier.stats.stream_counts import SmsDelta

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

    from courier.settings import Settings

_DAY, _BATCH, _DAYS = "DAY#", "BATCH#", "DAYS"


class DynamoPartialsStore:
    """`courier.stats.stream_counts.PartialsStore` on DynamoDB (low-level client)."""

    def __init__(self, client: DynamoDBClient, table_name: str, *, ttl_days: int) -> None:
        self._client = client
        self._table = table_name
        self._ttl_seconds = ttl_days * 86_400

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoPartialsStore:
        from courier.dynamodb_tables import dynamodb_client

        return cls(
            dynamodb_client(settings),
            settings.sms_stats_partials_table,
            ttl_days=settings.sms_status_ttl_days,
        )

    def _expires_at(self) -> dict[str, str]:
        return {"N": str(int(time.time()) + self._ttl_seconds)}

    def batch_days(self, batch: str) -> frozenset[str]:
        item = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": _BATCH + batch}, "sk": {"S": _DAYS}},
            ProjectionExpression="#days",
            ExpressionAttributeNames={"#days": "days"},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return frozenset()
        return frozenset(value["S"] for value in item["days"]["L"])

    def note_batch_days(self, batch: str, days: frozenset[str]) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": _BATCH + batch},
                "sk": {"S": _DAYS},
                "days": {"L": [{"S": day} for day in sorted(days)]},
                "expires_at": self._expires_at(),
            },
        )

    def put_partial(self, day: str, batch: str, delta: SmsDelta, records: int) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": _DAY + day},
                "sk": {"S": batch},
                "delta": {"S": delta.to_json()},
                "records": {"N": str(records)},
                "expires_at": self._expires_at(),
            },
        )

    def delete_partial(self, day: str, batch: str) -> None:
        self._client.delete_item(
            TableName=self._table, Key={"pk": {"S": _DAY + day}, "sk": {"S": batch}}
        )

    def day_partials(self, day: str) -> Iterator[SmsDelta]:
        """The day's partials, page by page (strongly consistent: a partial written just before
        the run is read)."""
        from botocore.exceptions import BotoCoreError, ClientError

        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": _DAY + day}},
            "ProjectionExpression": "delta",
            "ConsistentRead": True,
        }
        while True:
            try:
                page = self._client.query(**request)
            except (BotoCoreError, ClientError) as error:
                raise_if_transient(error, f"query {self._table} {day}")
                raise
            for item in page.get("Items", []):
                yield SmsDelta.from_json(item["delta"]["S"])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last
