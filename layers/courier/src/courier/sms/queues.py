"""SQS adapter for the sender: dead-lettering poison, retry backoff and deferred re-queues."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

    from courier.settings import Settings
    from courier.sqs_batch import SqsRecord

# The message attribute that counts how often a job was put back (see SqsJobConsumer).
DEFERRALS_ATTRIBUTE = "courier_deferrals"
# What `dead_letter` attaches to a message it parks (a redrive drops them again).
FAILURE_ATTRIBUTES = frozenset(
    {"failure_code", "failure_reason", "source_queue", "source_message_id", "failed_at"}
)


def deferrals_of(record: SqsRecord) -> int:
    """How often this message's job was put back before (0 for a producer's own message)."""
    value = record.string_attribute(DEFERRALS_ATTRIBUTE)
    try:
        return int(value or 0)
    except ValueError:
        return 0


# SQS limits: DelaySeconds and one visibility extension are bounded by these.
MAX_DELAY_SECONDS = 900
MAX_VISIBILITY_SECONDS = 43_200


class SqsQueues:
    """Talks to the source queue of a record and to the dead-letter queue of this sender."""

    def __init__(self, client: SQSClient, *, dead_letter_queue_url: str) -> None:
        self._client = client
        self._dlq_url = dead_letter_queue_url
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> SqsQueues:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "sqs",
            endpoint_url=settings.aws_endpoint_url or None,
            config=Config(retries={"mode": "standard", "total_max_attempts": 3}),
        )
        return cls(client, dead_letter_queue_url=settings.sms_dead_letter_queue_url)

    def queue_url(self, queue_arn: str) -> str:
        """URL of a queue from its ARN (asked once: emulators use their own URL shapes)."""
        with self._lock:
            if queue_arn not in self._urls:
                _, _, _, _, account, name = queue_arn.split(":", 5)
                self._urls[queue_arn] = self._client.get_queue_url(
                    QueueName=name, QueueOwnerAWSAccountId=account
                )["QueueUrl"]
            return self._urls[queue_arn]

    def dead_letter(
        self, *, body: str, code: str, reason: str, source_arn: str, source_message_id: str
    ) -> None:
        """Park the untouched body in the DLQ with why it was rejected (redrivable after a fix)."""
        if not self._dlq_url:
            raise RuntimeError("SMS_DEAD_LETTER_QUEUE_URL is not set; cannot park a poison message")

        def attr(value: str) -> MessageAttributeValueTypeDef:
            return {"DataType": "String", "StringValue": value[:1024] or "-"}

        self._client.send_message(
            QueueUrl=self._dlq_url,
            MessageBody=body,
            MessageAttributes={
                "failure_code": attr(code),
                "failure_reason": attr(reason),
                "source_queue": attr(source_arn),
                "source_message_id": attr(source_message_id),
                "failed_at": attr(datetime.now(UTC).isoformat(timespec="seconds")),
            },
        )

    def back_off(self, *, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        """Hide a failed record for `seconds` before SQS hands it out again."""
        self._client.change_message_visibility(
            QueueUrl=self.queue_url(queue_arn),
            ReceiptHandle=receipt_handle,
            VisibilityTimeout=max(0, min(seconds, MAX_VISIBILITY_SECONDS)),
        )

    def requeue(
        self, *, queue_arn: str, body: str, delay_seconds: float, deferrals: int = 0
    ) -> None:
        """Put a job back with a delay (up to 15 minutes a hop): not yet due, or deferred.

        A new message starts with a receive count of 0; `deferrals` travels as a message
        attribute so the consumer can cap how often one job is put back.
        """
        self._client.send_message(
            QueueUrl=self.queue_url(queue_arn),
            MessageBody=body,
            DelaySeconds=max(0, min(int(delay_seconds + 0.999), MAX_DELAY_SECONDS)),
            MessageAttributes={
                DEFERRALS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(deferrals)}
            },
        )
