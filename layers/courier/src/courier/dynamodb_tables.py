"""Opens DynamoDB tables for the adapters: one shared resource per process (slow to build)."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.config import Config
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
