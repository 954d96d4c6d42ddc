"""DynamoDB and S3 behind the stats ports; storage trouble worth a retry → TransientStatsError.

The day-shard pager reads DynamoDB's wire format itself (for speed): botocore's model-driven
parse of a Query response walks every attribute through the AttributeValue shape (~14 µs per
6-attribute item) and boto3's TypeDeserializer adds ~2.5 µs, both several times the fold's cost.
The pager decodes the body in botocore's `before-parse` hook (`courier.stats.wire`: typed by the
projection with msgspec, else `json.loads` for `S` and `N`); a page holding anything else (binary,
maps, lists, ...) goes through botocore and TypeDeserializer as before, so nothing is misread.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from courier.stats.errors import MissingObject, raise_if_transient
from courier.stats.wire import Page, QueryBodyDecoder

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import Table

DAY_SHARD_INDEX = "by_day_shard"
_RAW_QUERY_HOOK = "before-parse.dynamodb.Query"


class _RawQuery:
    """One Query in flight that wants its response's JSON decoded by the pager, not by botocore."""

    __slots__ = ("decoder", "items", "last")

    def __init__(self, decoder: QueryBodyDecoder) -> None:
        self.decoder = decoder
        self.items: Page | None = None
        self.last: Any = None


# Set only around the pager's own Query call: other calls on the same client parse as usual.
_raw_query: ContextVar[_RawQuery | None] = ContextVar("courier_stats_raw_query", default=None)


def _take_raw_query(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """botocore's `before-parse` hook: decode a successful Query's JSON body here and leave
    botocore an empty body, so its model-driven parse has nothing to walk."""
    query = _raw_query.get()
    if query is None or response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes | str) or not body:
        return
    decoded = query.decoder.decode(body)
    if decoded is None:
        return
    items, last = decoded
    query.items, query.last = items, last
    response_dict["body"] = b"{}"


class DynamoDayShardPager:
    """A day-shard's records, page by page: Query on `by_day_shard`, following LastEvaluatedKey.

    On the low-level client (not the resource, whose client deserialises every response), with
    only `fields` projected; bodies decoded by `QueryBodyDecoder` (`integers`: fields read as
    ints; `vocabularies`: the known words of some fields).
    `page_size` caps the items per Query (None: DynamoDB's 1 MB pages). One page is held at a time.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        fields: Sequence[str],
        integers: Collection[str] = (),
        vocabularies: Mapping[str, Collection[str]] | None = None,
        page_size: int | None = None,
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._names = {f"#f{index}": name for index, name in enumerate(fields)}
        self._decoder = QueryBodyDecoder(fields, integers=integers, vocabularies=vocabularies)
        self._page_size = page_size
        client.meta.events.register(
            _RAW_QUERY_HOOK, _take_raw_query, unique_id="courier-stats-raw-query"
        )

    def pages(self, day_shard: str) -> Iterator[Page]:
        from botocore.exceptions import BotoCoreError, ClientError

        request: dict[str, Any] = {
            "TableName": self._table_name,
            "IndexName": DAY_SHARD_INDEX,
            "KeyConditionExpression": "#day_shard = :day_shard",
            "ProjectionExpression": ", ".join(self._names),
            # Aliased: `status` and `day` are reserved words.
            "ExpressionAttributeNames": {"#day_shard": "day_shard", **self._names},
            "ExpressionAttributeValues": {":day_shard": {"S": day_shard}},
        }
        if self._page_size:
            request["Limit"] = self._page_size
        while True:
            query = _RawQuery(self._decoder)
            token = _raw_query.set(query)
            try:
                response = self._client.query(**request)
            except (BotoCoreError, ClientError) as error:
                raise_if_transient(error, f"query {self._table_name} {day_shard}")
                raise
            finally:
                _raw_query.reset(token)
            if query.items is not None:
                items, last = query.items, query.last
            else:  # botocore parsed it (a stub, or a type the raw decoder leaves alone)
                items = self._decoder.wire.items(response.get("Items", []))
                last = response.get("LastEvaluatedKey")
            yield items
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
            raise_if_transient(error, f"put s3://{self._bucket}/{key}")
            raise
        return f"s3://{self._bucket}/{key}"

    def get(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body: bytes = self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                raise MissingObject(f"s3://{self._bucket}/{key} does not exist") from error
            raise_if_transient(error, f"get s3://{self._bucket}/{key}")
            raise
        except BotoCoreError as error:
            raise_if_transient(error, f"get s3://{self._bucket}/{key}")
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
            raise_if_transient(error, f"put {self._table.name} {item.get('date')}")
            raise
