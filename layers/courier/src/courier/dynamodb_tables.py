"""Opens DynamoDB tables for the adapters: a shared client, or a shared resource (slow to build)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
    from botocore.config import Config
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table

    from courier.settings import Settings


def dynamodb_client_config() -> Config:
    """Timeouts that fit the functions' budgets (botocore's default read timeout is 60 s, twice
    a sender's whole invocation) and the standard retry mode for throttling."""
    from botocore.config import Config

    return Config(
        connect_timeout=2,
        read_timeout=3,
        retries={"mode": "standard", "total_max_attempts": 3},
    )


@cache
def _resource(endpoint_url: str) -> DynamoDBServiceResource:
    import boto3

    return boto3.resource(
        "dynamodb", endpoint_url=endpoint_url or None, config=dynamodb_client_config()
    )


def dynamodb_table(settings: Settings, table_name: str) -> Table:
    """The named table, through the emulator endpoint when settings name one."""
    return _resource(settings.aws_endpoint_url).Table(table_name)


@cache
def _client(endpoint_url: str) -> DynamoDBClient:
    import boto3

    return boto3.client(
        "dynamodb", endpoint_url=endpoint_url or None, config=dynamodb_client_config()
    )


def dynamodb_client(settings: Settings) -> DynamoDBClient:
    """The low-level client, for adapters of a key or two that need no resource: building the
    resource (its model, its classes) costs a function without other tables ~20 ms of cold
    start, and the client alone is what the function needs anyway."""
    return _client(settings.aws_endpoint_url)


class ClientTable:
    """A table through the shared low-level client, with plain Python values as boto3's Table
    resource takes and returns them (numbers as Decimal), for the calls the adapters make.

    The SMS sender's stores use it: building the resource (its model, its classes, a second
    client) was ~25 ms of CPU of the sender's cold start, and the function has the client anyway.
    """

    def __init__(self, client: DynamoDBClient, name: str) -> None:
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self._client = client
        self.name = name
        self._serializer: TypeSerializer = TypeSerializer()
        self._deserializer: TypeDeserializer = TypeDeserializer()

    def get_item(self, **request: Any) -> dict[str, Any]:
        return self._plain_answer(self._client.get_item(**self._typed_request(request)))

    def put_item(self, **request: Any) -> dict[str, Any]:
        return self._plain_answer(self._client.put_item(**self._typed_request(request)))

    def update_item(self, **request: Any) -> dict[str, Any]:
        return self._plain_answer(self._client.update_item(**self._typed_request(request)))

    def delete_item(self, **request: Any) -> dict[str, Any]:
        return self._plain_answer(self._client.delete_item(**self._typed_request(request)))

    def query(self, **request: Any) -> dict[str, Any]:
        return self._plain_answer(self._client.query(**self._typed_request(request)))

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        typed: Any = {
            table: {**keys, "Keys": [self._typed(key) for key in keys["Keys"]]}
            for table, keys in RequestItems.items()
        }
        answer: dict[str, Any] = dict(self._client.batch_get_item(RequestItems=typed))
        answer["Responses"] = {
            table: [self._plain(item) for item in items]
            for table, items in answer.get("Responses", {}).items()
        }
        answer["UnprocessedKeys"] = {
            table: {**keys, "Keys": [self._plain(key) for key in keys["Keys"]]}
            for table, keys in answer.get("UnprocessedKeys", {}).items()
        }
        return answer

    def _typed(self, values: dict[str, Any]) -> dict[str, Any]:
        return {name: self._serializer.serialize(value) for name, value in values.items()}

    def _plain(self, values: dict[str, Any]) -> dict[str, Any]:
        return {name: self._deserializer.deserialize(value) for name, value in values.items()}

    def _typed_request(self, request: dict[str, Any]) -> dict[str, Any]:
        typed = {**request, "TableName": self.name}
        for field in ("Key", "Item", "ExpressionAttributeValues", "ExclusiveStartKey"):
            if field in typed:
                typed[field] = self._typed(typed[field])
        return typed

    def _plain_answer(self, answer: Any) -> dict[str, Any]:
        plain: dict[str, Any] = dict(answer)
        for field in ("Item", "Attributes", "LastEvaluatedKey"):
            if field in plain:
                plain[field] = self._plain(plain[field])
        if "Items" in plain:
            plain["Items"] = [self._plain(item) for item in plain["Items"]]
        return plain


def client_table(settings: Settings, table_name: str) -> ClientTable:
    """The named table through the shared client (see `ClientTable`)."""
    return ClientTable(dynamodb_client(settings), table_name)


BATCH_GET_KEYS = 100  # BatchGetItem's most keys a call
BATCH_GET_ATTEMPTS = 5


def batch_get_strings(
    table: Table | ClientTable, key: str, values: list[str], attributes: list[str]
) -> list[dict[str, str]]:
    """The items whose string key `key` is among `values`: their string `attributes` (plus the
    key). BatchGetItem 100 keys a call, unprocessed keys retried with backoff; absent items are
    simply not returned. Eventually consistent reads (half the read units)."""
    import time

    batch_get = (
        table.batch_get_item if isinstance(table, ClientTable) else table.meta.client.batch_get_item
    )
    names = {f"#a{i}": name for i, name in enumerate([key, *attributes])}
    projection = ", ".join(names)
    found: list[dict[str, str]] = []
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), BATCH_GET_KEYS):
        request: dict[str, Any] = {
            table.name: {
                # Plain values: the resource's client and ClientTable serialize them.
                "Keys": [{key: v} for v in unique[start : start + BATCH_GET_KEYS]],
                "ProjectionExpression": projection,
                "ExpressionAttributeNames": names,
            }
        }
        for attempt in range(BATCH_GET_ATTEMPTS):
            response = batch_get(RequestItems=request)
            for item in response.get("Responses", {}).get(table.name, []):
                found.append({k: str(v) for k, v in item.items()})
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                break
            time.sleep(min(1.0, 0.05 * 2**attempt))
        else:
            raise RuntimeError(f"BatchGetItem left keys unprocessed on {table.name}")
    return found
