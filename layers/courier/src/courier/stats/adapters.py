"""DynamoDB and S3 behind the stats ports; storage trouble worth a retry → TransientStatsError.

The day-shard pager reads DynamoDB's wire format itself (hand-written, for speed): botocore's
model-driven parse of a Query response walks every attribute through the AttributeValue shape
(~14 µs per 6-attribute item) and boto3's TypeDeserializer adds ~2.5 µs, both several times the
fold's cost. The pager parses the body with `json.loads` in botocore's `before-parse` hook and
decodes only the types its projection meets (`S`, `N`); a page holding anything else (binary,
maps, lists, ...) goes through botocore and TypeDeserializer as before, so nothing is misread.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from courier.stats.errors import MissingObject, TransientStatsError, is_transient

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import Table

DAY_SHARD_INDEX = "by_day_shard"
_RAW_QUERY_HOOK = "before-parse.dynamodb.Query"


def _raise_transient(error: Exception, doing: str) -> None:
    """Re-raise `error` as TransientStatsError when a later attempt may succeed."""
    if is_transient(error):
        raise TransientStatsError(f"{doing}: {error}") from error


class WireDecoder:
    """Items in DynamoDB's wire format (`{"parts": {"N": "2"}}`) → plain values (`{"parts": 2}`).

    `S` → str; `N` → int for `integers` (the fields the fold reads as whole numbers) when the text
    is one, else Decimal; any other type → boto3's TypeDeserializer, on items botocore parsed.
    """

    def __init__(self, integers: Collection[str] = ()) -> None:
        self._integers = frozenset(integers)
        self._deserializer: TypeDeserializer | None = None

    def _other(self, name: str, value: Mapping[str, Any]) -> Any:
        text = value.get("N")
        if text is not None and name in self._integers:
            try:
                return int(text)
            except ValueError:
                pass  # not a whole number: a Decimal, as boto3 reads it
        if self._deserializer is None:
            from boto3.dynamodb.types import TypeDeserializer

            self._deserializer = TypeDeserializer()
        return self._deserializer.deserialize(dict(value))  # type: ignore[arg-type]

    def items(self, items: Sequence[Mapping[str, Mapping[str, Any]]]) -> list[dict[str, Any]]:
        """Items as botocore's parser returns them (binary values already bytes)."""
        other = self._other
        # An attribute value holds exactly one type: `"S" in value` is a string.
        return [
            {
                name: value["S"] if "S" in value else other(name, value)
                for name, value in item.items()
            }
            for item in items
        ]

    def raw_items(
        self, items: Sequence[Mapping[str, Mapping[str, Any]]]
    ) -> list[dict[str, Any]] | None:
        """Items straight from the response JSON, or None when one holds a type other than S or N
        (binary is base64 there, and maps or lists may hold binary: botocore's parse decodes it)."""
        other = self._other
        try:
            return [
                {
                    name: value["S"] if "S" in value else other(name, _number(value))
                    for name, value in item.items()
                }
                for item in items
            ]
        except _NotPlain:
            return None


class _NotPlain(Exception):
    """A wire value this decoder leaves to botocore."""


def _number(value: Mapping[str, Any]) -> Mapping[str, Any]:
    if "N" not in value:
        raise _NotPlain
    return value


def _plain_key(key: Any) -> bool:
    """Whether a LastEvaluatedKey from the JSON can go back as it is (no base64 binary in it)."""
    return key is None or (
        isinstance(key, dict)
        and all(isinstance(v, dict) and v.keys() <= {"S", "N"} for v in key.values())
    )


class _RawQuery:
    """One Query in flight that wants its response's JSON decoded by the pager, not by botocore."""

    __slots__ = ("decoder", "items", "last")

    def __init__(self, decoder: WireDecoder) -> None:
        self.decoder = decoder
        self.items: list[dict[str, Any]] | None = None
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
    try:
        data = json.loads(body)
    except ValueError:
        return  # botocore's parser reports it
    if not isinstance(data, dict):
        return
    last = data.get("LastEvaluatedKey")
    items = query.decoder.raw_items(data.get("Items", [])) if _plain_key(last) else None
    if items is None:
        return
    query.items, query.last = items, last
    response_dict["body"] = b"{}"


class DynamoDayShardPager:
    """A day-shard's records, page by page: Query on `by_day_shard`, following LastEvaluatedKey.

    On the low-level client (not the resource, whose client deserialises every response), with
    only `fields` projected; values decoded by `WireDecoder` (`integers`: fields read as ints).
    `page_size` caps the items per Query (None: DynamoDB's 1 MB pages). One page is held at a time.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        fields: Sequence[str],
        integers: Collection[str] = (),
        page_size: int | None = None,
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._names = {f"#f{index}": name for index, name in enumerate(fields)}
        self._decoder = WireDecoder(integers)
        self._page_size = page_size
        client.meta.events.register(
            _RAW_QUERY_HOOK, _take_raw_query, unique_id="courier-stats-raw-query"
        )

    def pages(self, day_shard: str) -> Iterator[list[dict[str, Any]]]:
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
                _raise_transient(error, f"query {self._table_name} {day_shard}")
                raise
            finally:
                _raw_query.reset(token)
            if query.items is not None:
                items, last = query.items, query.last
            else:  # botocore parsed it (a stub, or a type the raw decoder leaves alone)
                items = self._decoder.items(response.get("Items", []))
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
