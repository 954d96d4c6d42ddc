"""Opens DynamoDB tables for the adapters: one shared resource per process (slow to build)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


BATCH_GET_KEYS = 100  # BatchGetItem's most keys a call
BATCH_GET_ATTEMPTS = 5


def batch_get_strings(
    table: Table, key: str, values: list[str], attributes: list[str]
) -> list[dict[str, str]]:
    """The items whose string key `key` is among `values`: their string `attributes` (plus the
    key). BatchGetItem 100 keys a call, unprocessed keys retried with backoff; absent items are
    simply not returned. Eventually consistent reads (half the read units)."""
    import time

    client = table.meta.client
    names = {f"#a{i}": name for i, name in enumerate([key, *attributes])}
    projection = ", ".join(names)
    found: list[dict[str, str]] = []
    unique = list(dict.fromkeys(values))
    for start in range(0, len(unique), BATCH_GET_KEYS):
        request: dict[str, Any] = {
            table.name: {
                # The resource's client serializes plain values (boto3's TypeSerializer).
                "Keys": [{key: v} for v in unique[start : start + BATCH_GET_KEYS]],
                "ProjectionExpression": projection,
                "ExpressionAttributeNames": names,
            }
        }
        for attempt in range(BATCH_GET_ATTEMPTS):
            response = client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(table.name, []):
                found.append({k: str(v) for k, v in item.items()})
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                break
            time.sleep(min(1.0, 0.05 * 2**attempt))
        else:
            raise RuntimeError(f"BatchGetItem left keys unprocessed on {table.name}")
    return found
