"""SQS adapter for the DLQ tooling: look at a dead-letter queue without hiding it, move messages.

Receiving is the only way to read an SQS message, and a receive hides it for the visibility
timeout. Inspection therefore receives with a short timeout, remembers every receipt handle and
releases each message (ChangeMessageVisibility 0) before it returns, even when it fails half
way: listing never keeps messages from anyone. (Each receive still adds one to the message's
ApproximateReceiveCount; these dead-letter queues have no redrive policy of their own, so that
count moves nothing.)

A per-message move sends the body with its message attributes, minus the failure ones, to the
source queue and deletes the dead letter only after the send succeeded: a failure in between
leaves a copy in both queues, never none (the sender's idempotency absorbs the copy).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from courier.sms.dead_letters import (
    MoveReport,
    MoveTaskUnsupported,
    QueueKind,
    QueueMessage,
    redrive_attributes,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef, MessageTypeDef

    from courier.settings import Settings

# Error codes (and moto's in-process NotImplementedError) that mean "no such API here".
_UNSUPPORTED_CODES = frozenset(
    {
        "InvalidAction",
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        "UnknownOperationException",
        "NotImplemented",
    }
)

# Settings field names of each kind's (dead-letter queue URL, source queue URL).
QUEUE_URL_SETTINGS = {
    QueueKind.TRANSACTIONAL: (
        "sms_transactional_dead_letter_queue_url",
        "sms_transactional_queue_url",
    ),
    QueueKind.BULK: ("sms_bulk_dead_letter_queue_url", "sms_bulk_queue_url"),
    QueueKind.EVENTS: ("sms_events_dead_letter_queue_url", "sms_events_queue_url"),
}


class SqsDeadLetterQueue:
    """One dead-letter queue and the source queue its messages go back to."""

    def __init__(
        self,
        client: SQSClient,
        *,
        dead_letter_queue_url: str,
        source_queue_url: str,
        visibility_seconds: int = 60,
        wait_seconds: int = 1,
    ) -> None:
        self._client = client
        self.dead_letter_queue_url = dead_letter_queue_url
        self.source_queue_url = source_queue_url
        self._visibility = visibility_seconds
        # Long polling asks every SQS server: a short poll may answer "empty" while messages
        # remain, which would end a scan early.
        self._wait = wait_seconds
        self._arns: dict[str, str] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        kind: QueueKind,
        *,
        dead_letter_queue_url: str | None = None,
        source_queue_url: str | None = None,
        visibility_seconds: int = 60,
    ) -> SqsDeadLetterQueue:
        import boto3
        from botocore.config import Config

        dlq_field, source_field = QUEUE_URL_SETTINGS[kind]
        dlq_url = dead_letter_queue_url or getattr(settings, dlq_field)
        source_url = source_queue_url or getattr(settings, source_field)
        if not dlq_url or not source_url:
            raise ValueError(
                f"the {kind} queue URLs are not set: {dlq_field.upper()} and {source_field.upper()}"
            )
        client = boto3.client(
            "sqs",
            endpoint_url=settings.aws_endpoint_url or None,
            config=Config(retries={"mode": "standard", "total_max_attempts": 5}),
        )
        return cls(
            client,
            dead_letter_queue_url=dlq_url,
            source_queue_url=source_url,
            visibility_seconds=visibility_seconds,
        )

    # ---- the DeadLetterQueue port

    @property
    def source_queue_arn(self) -> str:
        return self._arn(self.source_queue_url)

    def depth(self) -> int:
        attributes = self._client.get_queue_attributes(
            QueueUrl=self.dead_letter_queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def peek(self, limit: int) -> list[QueueMessage]:
        return [message for message, _ in self._scan(limit, lambda _m, _raw: False)]

    def move_each(self, decide: Callable[[QueueMessage], bool], limit: int) -> MoveReport:
        report = MoveReport()

        def move(message: QueueMessage, raw: MessageTypeDef) -> bool:
            if not decide(message):
                return False
            try:
                self._send_to_source(raw)
            except Exception as error:
                report.failed[message.message_id] = f"send to the source queue failed: {error}"
                return False
            try:
                self._client.delete_message(
                    QueueUrl=self.dead_letter_queue_url, ReceiptHandle=raw["ReceiptHandle"]
                )
            except Exception as error:
                report.failed[message.message_id] = (
                    f"sent to the source queue but not deleted here (a copy stays): {error}"
                )
                return True  # no longer held: its handle may be stale
            report.moved.append(message.message_id)
            return True

        self._scan(limit, move)
        return report

    def start_move_task(self) -> str:
        from botocore.exceptions import ClientError

        try:
            response = self._client.start_message_move_task(
                SourceArn=self._arn(self.dead_letter_queue_url),
                DestinationArn=self.source_queue_arn,
            )
        except NotImplementedError as error:  # moto, in-process
            raise MoveTaskUnsupported(str(error)) from error
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in _UNSUPPORTED_CODES:
                raise MoveTaskUnsupported(f"{code}: {error}") from error
            raise
        return response["TaskHandle"]

    # ---- receiving

    def _scan(
        self, limit: int, handle: Callable[[QueueMessage, MessageTypeDef], bool]
    ) -> list[tuple[QueueMessage, MessageTypeDef]]:
        """Receive up to `limit` distinct messages, calling `handle` on each new one (True: it
        is done with the message, which is no longer held); release the rest at the end."""
        seen: list[tuple[QueueMessage, MessageTypeDef]] = []
        seen_ids: set[str] = set()
        held: dict[str, str] = {}  # message id -> receipt handle to release
        try:
            while len(seen) < limit:
                batch = self._client.receive_message(
                    QueueUrl=self.dead_letter_queue_url,
                    MaxNumberOfMessages=min(10, limit - len(seen)),
                    VisibilityTimeout=self._visibility,
                    WaitTimeSeconds=self._wait,
                    MessageAttributeNames=["All"],
                    MessageSystemAttributeNames=["All"],
                ).get("Messages", [])
                new = []
                for raw in batch:
                    message_id = raw["MessageId"]
                    if message_id not in seen_ids:
                        new.append(raw)
                    elif message_id in held:
                        held[message_id] = raw["ReceiptHandle"]  # the older handle is stale
                    else:
                        self._release({message_id: raw["ReceiptHandle"]})
                if not new:
                    break  # empty, or only messages seen before (their visibility ran out)
                for raw in new:
                    message = _queue_message(raw)
                    seen_ids.add(message.message_id)
                    seen.append((message, raw))
                    held[message.message_id] = raw["ReceiptHandle"]
                    if handle(message, raw):
                        held.pop(message.message_id, None)
        finally:
            self._release(held)
        return seen

    def _release(self, held: dict[str, str]) -> None:
        """Make held messages visible again (best effort: they reappear on their own anyway)."""
        entries = [
            {"Id": str(index), "ReceiptHandle": receipt, "VisibilityTimeout": 0}
            for index, receipt in enumerate(held.values())
        ]
        for start in range(0, len(entries), 10):
            with contextlib.suppress(Exception):
                self._client.change_message_visibility_batch(
                    QueueUrl=self.dead_letter_queue_url,
                    Entries=entries[start : start + 10],  # type: ignore[arg-type]
                )

    # ---- sending

    def _send_to_source(self, raw: MessageTypeDef) -> None:
        attributes = raw.get("MessageAttributes", {})
        kept: dict[str, MessageAttributeValueTypeDef] = {}
        for name in redrive_attributes(attributes):
            value = attributes[name]
            entry: dict[str, Any] = {"DataType": value["DataType"]}
            if "StringValue" in value:
                entry["StringValue"] = value["StringValue"]
            if "BinaryValue" in value:
                entry["BinaryValue"] = value["BinaryValue"]
            kept[name] = entry  # type: ignore[assignment]
        self._client.send_message(
            QueueUrl=self.source_queue_url,
            MessageBody=raw["Body"],
            **({"MessageAttributes": kept} if kept else {}),  # type: ignore[arg-type]
        )

    def _arn(self, url: str) -> str:
        if url not in self._arns:
            self._arns[url] = self._client.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
        return self._arns[url]


def _queue_message(raw: MessageTypeDef) -> QueueMessage:
    system = raw.get("Attributes", {})
    sent_ms = int(system.get("SentTimestamp", "0") or 0)
    return QueueMessage(
        message_id=raw["MessageId"],
        body=raw.get("Body", ""),
        attributes={
            name: value["StringValue"]
            for name, value in raw.get("MessageAttributes", {}).items()
            if "StringValue" in value
        },
        sent_at=datetime.fromtimestamp(sent_ms / 1000, tz=UTC),
        receive_count=int(system.get("ApproximateReceiveCount", "0") or 0),
        source_arn=system.get("DeadLetterQueueSourceArn") or None,
    )
