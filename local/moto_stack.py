"""The SMS pipeline's AWS services in-process: moto tables from template.yaml, the queues, and a
Lambda context stand-in. Tests and benchmarks share it (bench/ never imports tests/).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from local.template import template_resource

REGION = "ap-northeast-2"
ACCOUNT = "123456789012"


def create_table_from_template(client: Any, logical_id: str, table_name: str) -> None:
    """Create a moto table with the key schema and indexes that template.yaml declares."""
    props = template_resource(logical_id)["Properties"]
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = [
            {k: v for k, v in index.items() if k in {"IndexName", "KeySchema", "Projection"}}
            for index in props["GlobalSecondaryIndexes"]
        ]
    stream = props.get("StreamSpecification")
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **stream}
    client.create_table(**kwargs)


@dataclass
class FakeLambdaContext:
    """A stand-in for the Lambda context object with the fields Powertools reads."""

    function_name: str = "courier-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:ap-northeast-2:123456789012:function:courier-test"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


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


SMS_QUEUES = [
    "courier-sms-transactional",
    "courier-sms-transactional-dlq",
    "courier-sms-bulk",
    "courier-sms-bulk-dlq",
    "courier-sms-events",
    "courier-sms-events-dlq",
]


@contextmanager
def sms_moto_stack(set_env: Callable[[str, str], None]) -> Iterator[SmsStack]:
    """moto SQS + DynamoDB for the SMS pipeline (tables from template.yaml, queues named as in
    events/), with the sender's environment set through `set_env` (pytest's or os.environ's)."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_table_from_template(dynamodb, "SmsMessagesTable", "SmsMessages")
        create_table_from_template(dynamodb, "SmsOptOutTable", "SmsOptOuts")
        create_table_from_template(dynamodb, "SmsStatsPartialsTable", "SmsStatsPartials")
        sqs = boto3.client("sqs", region_name=REGION)
        stack = SmsStack(sqs=sqs, dynamodb=dynamodb)
        for name in SMS_QUEUES:
            stack.queue_urls[name] = sqs.create_queue(QueueName=name)["QueueUrl"]
        for name, value in {
            "SMS_MESSAGES_TABLE": "SmsMessages",
            "SMS_OPT_OUT_TABLE": "SmsOptOuts",
            "SMS_STATS_PARTIALS_TABLE": "SmsStatsPartials",
            # The phone lookup key as a plain value (the stack has PhoneLookupKeySecret).
            "SMS_PHONE_KEY": "local-phone-lookup-key-0123456789abcdef",
            "SMS_DEAD_LETTER_QUEUE_URL": stack.queue_urls["courier-sms-transactional-dlq"],
            "SMS_PROVIDER": "sandbox",
            "SMS_RATE_LIMIT_MPS": "0",
            "SMS_RETRY_BASE_SECONDS": "0",
            "SMS_TRANSACTIONAL_QUEUE_URL": stack.queue_urls["courier-sms-transactional"],
            "SMS_BULK_QUEUE_URL": stack.queue_urls["courier-sms-bulk"],
        }.items():
            set_env(name, value)
        yield stack
