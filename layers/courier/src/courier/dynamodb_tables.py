"""Opens DynamoDB tables for the adapters: one shared resource per process (slow to build)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import DynamoDBServiceResource, Table

    from courier.settings import Settings


@cache
def _resource(endpoint_url: str) -> DynamoDBServiceResource:
    import boto3

    return boto3.resource("dynamodb", endpoint_url=endpoint_url or None)


def dynamodb_table(settings: Settings, table_name: str) -> Table:
    """The named table, through the emulator endpoint when settings name one."""
    return _resource(settings.aws_endpoint_url).Table(table_name)
