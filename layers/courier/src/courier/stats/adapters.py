"""DynamoDB and S3 behind the stats ports; storage trouble worth a retry → TransientStatsError."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from courier.stats.errors import MissingObject, TransientStatsError, is_transient

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

DAY_SHARD_INDEX = "by_day_shard"


def _raise_transient(error: Exception, doing: str) -> None:
    """Re-raise `error` as TransientStatsError when a later attempt may succeed."""
    if is_transient(error):
        raise TransientStatsError(f"{doing}: {error}") from error


class DynamoDayShardPager:
    """A day-shard's records, page by page: Query on `by_day_shard`, following LastEvaluatedKey.

    Only `fields` are projected (less to transfer and to deserialise). `page_size` caps the items
    per Query (None: DynamoDB's 1 MB pages). One page is held at a time.
    """

    def __init__(
        self, table: Table, *, fields: Sequence[str], page_size: int | None = None
    ) -> None:
        self._table = table
        self._names = {f"#f{index}": name for index, name in enumerate(fields)}
        self._page_size = page_size

    def pages(self, day_shard: str) -> Iterator[list[dict[str, Any]]]:
        from botocore.exceptions import BotoCoreError, ClientError

        request: dict[str, Any] = {
            "IndexName": DAY_SHARD_INDEX,
            "KeyConditionExpression": "#day_shard = :day_shard",
            "ProjectionExpression": ", ".join(self._names),
            # Aliased: `status` and `day` are reserved words.
            "ExpressionAttributeNames": {"#day_shard": "day_shard", **self._names},
            "ExpressionAttributeValues": {":day_shard": day_shard},
        }
        if self._page_size:
            request["Limit"] = self._page_size
        while True:
            try:
                response = self._table.query(**request)
            except (BotoCoreError, ClientError) as error:
                _raise_transient(error, f"query {self._table.name} {day_shard}")
                raise
            yield response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            request["ExclusiveStartKey"] = last


class S3ObjectStore:
    """Objects in the reports bucket (partials and reports)."""

    def __init__(self, client: Any, bucket: str) -> None:
        if not bucket:
            raise ValueError("no reports bucket configured (STATS_REPORTS_BUCKET)")
        self._client = client
        self._bucket = bucket

    def put(self, key: str, body: bytes, *, content_type: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.put_object(
                Bucket=self._bucket, Key=key, Body=body, ContentType=content_type
            )
        except (BotoCoreError, ClientError) as error:
            _raise_transient(error, f"put s3://{self._bucket}/{key}")
            raise
        return f"s3://{self._bucket}/{key}"

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body: bytes = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise MissingObject(f"s3://{self._bucket}/{key} does not exist") from error
            _raise_transient(error, f"get s3://{self._bucket}/{key}")
            raise
        except BotoCoreError as error:
            _raise_transient(error, f"get s3://{self._bucket}/{key}")
            raise
        return body


class DynamoStatsTable:
    """The DailyStats table: one item per day (key `date`), overwritten by a re-run."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def put(self, item: Mapping[str, Any]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._table.put_item(Item=dict(item))
        except (BotoCoreError, ClientError) as error:
            _raise_transient(error, f"put {self._table.name} {item.get('date')}")
            raise
