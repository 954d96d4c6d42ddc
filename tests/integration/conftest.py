"""The SMS pipeline's AWS side in moto (tables from template.yaml, queues named as in events/)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from courier.stats import wiring as stats_wiring
from tests.harness import ACCOUNT, REGION, create_table_from_template, template_resources
from tests.integration.stats_day import (
    BUCKET,
    CHAT_SHARDS,
    NOW,
    SMS_SHARDS,
    Stack,
)


@dataclass
class SmsStack:
    sqs: Any
    dynamodb: Any
    queue_urls: dict[str, str] = field(default_factory=dict)

    def arn(self, name: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    def drain(self, name: str) -> list[dict[str, Any]]:
        """Every message on a queue (received and deleted), with its attributes."""
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=self.queue_urls[name],
                MaxNumberOfMessages=10,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
                WaitTimeSeconds=0,
                VisibilityTimeout=0,
            ).get("Messages", [])
            if not batch:
                return messages
            for message in batch:
                self.sqs.delete_message(
                    QueueUrl=self.queue_urls[name], ReceiptHandle=message["ReceiptHandle"]
                )
            messages.extend(batch)

    def opt_out(self, number: str) -> None:
        self.dynamodb.put_item(
            TableName="SmsOptOuts", Item={"phone_number": {"S": number}, "source": {"S": "test"}}
        )

    def status_items(self) -> dict[str, dict[str, Any]]:
        from boto3.dynamodb.types import TypeDeserializer

        deserializer = TypeDeserializer()
        items: dict[str, dict[str, Any]] = {}
        for page in self.dynamodb.get_paginator("scan").paginate(TableName="SmsMessages"):
            for raw in page["Items"]:
                item = {k: deserializer.deserialize(v) for k, v in raw.items()}
                items[item["job_id"]] = item
        return items


QUEUES = [
    "courier-sms-transactional",
    "courier-sms-transactional-dlq",
    "courier-sms-bulk",
    "courier-sms-bulk-dlq",
    "courier-sms-events",
    "courier-sms-events-dlq",
]


@pytest.fixture
def sms_stack(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmsStack]:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table_from_template(dynamodb, "SmsMessagesTable", "SmsMessages")
        create_table_from_template(dynamodb, "SmsIdempotencyTable", "SmsIdempotency")
        create_table_from_template(dynamodb, "SmsOptOutTable", "SmsOptOuts")
        sqs = boto3.client("sqs", region_name=REGION)
        stack = SmsStack(sqs=sqs, dynamodb=dynamodb)
        for name in QUEUES:
            stack.queue_urls[name] = sqs.create_queue(QueueName=name)["QueueUrl"]
        for name, value in {
            "SMS_MESSAGES_TABLE": "SmsMessages",
            "SMS_IDEMPOTENCY_TABLE": "SmsIdempotency",
            "SMS_OPT_OUT_TABLE": "SmsOptOuts",
            "SMS_DEAD_LETTER_QUEUE_URL": stack.queue_urls["courier-sms-transactional-dlq"],
            "SMS_PROVIDER": "sandbox",
            "SMS_RATE_LIMIT_MPS": "0",
            "SMS_RETRY_BASE_SECONDS": "0",
            "SMS_TRANSACTIONAL_QUEUE_URL": stack.queue_urls["courier-sms-transactional"],
            "SMS_BULK_QUEUE_URL": stack.queue_urls["courier-sms-bulk"],
        }.items():
            monkeypatch.setenv(name, value)
        yield stack


CHAT_API_ENDPOINT = "https://a1b2c3d4e5.execute-api.ap-northeast-2.amazonaws.com/live"


@pytest.fixture
def chat_env(aws_env: None, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Chat tables (from template.yaml) in moto, the session's redis-server (flushed), a secret."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table_from_template(dynamodb, "ChatConnectionsTable", "ChatConnections")
        create_table_from_template(dynamodb, "ChatMessagesTable", "ChatMessages")
        for name, value in {
            "CHAT_CONNECTIONS_TABLE": "ChatConnections",
            "CHAT_MESSAGES_TABLE": "ChatMessages",
            "CHAT_TOKEN_SECRET": "test-signing-secret-0123456789abcdef0123456789",
            "CHAT_HISTORY_RECENT": "5",
            "CHAT_SEND_RATE_PER_SECOND": "1000",
            "CHAT_SEND_BURST": "1000",
            "REDIS_URL": redis_url,
        }.items():
            monkeypatch.setenv(name, value)
        yield dynamodb


STATS_STEPS = (
    stats_wiring.stats_planner,
    stats_wiring.stats_aggregator,
    stats_wiring.stats_publisher,
)


@pytest.fixture
def stack(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The stats tables, bucket and settings in moto, with the clock at 00:10 on the 25th (KST)."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_table_from_template(client, "SmsMessagesTable", "SmsMessages")
        create_table_from_template(client, "ChatMessagesTable", "ChatMessages")
        if "DailyStatsTable" in template_resources():
            create_table_from_template(client, "DailyStatsTable", "DailyStats")
        else:
            # The DailyStats table as the template declares it: key `date` (string), on demand.
            client.create_table(
                TableName="DailyStats",
                KeySchema=[{"AttributeName": "date", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "date", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        boto3.client("s3", region_name=REGION).create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        for name, value in {
            "SMS_MESSAGES_TABLE": "SmsMessages",
            "CHAT_MESSAGES_TABLE": "ChatMessages",
            "STATS_TABLE": "DailyStats",
            "STATS_REPORTS_BUCKET": BUCKET,
            "STATS_TOP_ROOMS": "2",
            "SMS_DAY_SHARDS": str(SMS_SHARDS),
            "CHAT_DAY_SHARDS": str(CHAT_SHARDS),
            "SERVICE_TIMEZONE": "Asia/Seoul",
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setattr(stats_wiring, "system_clock", lambda: NOW)
        for cached in (
            stats_wiring.stats_planner,
            stats_wiring.stats_aggregator,
            stats_wiring.stats_publisher,
        ):
            cached.cache_clear()
        yield Stack()
        for cached in (
            stats_wiring.stats_planner,
            stats_wiring.stats_aggregator,
            stats_wiring.stats_publisher,
        ):
            cached.cache_clear()
