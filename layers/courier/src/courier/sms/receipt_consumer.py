"""Inbound SQS adapter for delivery receipts: a status update per record, partial failures.

A receipt that meets a throttled or unreachable status table is put back on its queue with a
growing delay and acknowledged (capped like the senders' deferrals), so a DynamoDB bad spell
cannot push good receipts into the dead-letter queue through maxReceiveCount.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import TYPE_CHECKING, Any

from courier.aws_errors import is_transient
from courier.observability import add_counts, logger
from courier.sms.delivery import PoisonJob
from courier.sms.queues import MAX_DELAY_SECONDS, deferrals_of
from courier.sms.receipts import (
    DELIVERED_EVENTS,
    ReceiptStore,
    apply_receipt,
    job_id_of,
    parse_receipt,
)
from courier.sqs_batch import SqsRecord, process_partial_response

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from courier.sms.queues import SqsQueues

# SmsDeliveryRateAlarm reads these two: published every invocation, zeros included.
ALARM_INPUTS = frozenset({"delivered", "undelivered"})


class ReceiptConsumer:
    def __init__(
        self,
        store: ReceiptStore,
        queues: SqsQueues,
        *,
        max_deferrals: int = 50,
        retry_base_seconds: int = 5,
    ) -> None:
        self._store = store
        self._queues = queues
        self._max_deferrals = max_deferrals
        self._retry_base = retry_base_seconds
        self._counts: Counter[str] = Counter()

    def process_batch(self, event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
        self._counts = Counter()
        response = process_partial_response(event, self._handle_record)
        names = {
            "applied": "SmsReceiptsApplied",
            "stale": "SmsReceiptsStale",
            "dead_lettered": "SmsReceiptsDeadLettered",
            "deferred": "SmsReceiptsDeferred",
            # Final outcomes newly recorded: the delivery-rate alarm's numerator and rest.
            "delivered": "SmsDelivered",
            "undelivered": "SmsUndelivered",
        }
        add_counts(self._counts, names, zeros_for=ALARM_INPUTS)
        return dict(response)

    def _handle_record(self, record: SqsRecord) -> str:
        try:
            receipt = parse_receipt(record.body)
            job_id_of(receipt)
        except PoisonJob as poison:
            logger.warning(
                "sms receipt dead-lettered",
                extra={
                    "message_id": record.message_id,
                    "code": poison.code,
                    "reason": poison.detail,
                },
            )
            self._queues.dead_letter(
                body=record.body,
                code=poison.code,
                reason=poison.detail,
                source_arn=record.event_source_arn,
                source_message_id=record.message_id,
            )
            self._counts["dead_lettered"] += 1
            return "DEAD_LETTERED"
        try:
            applied = apply_receipt(receipt, self._store)
        except Exception as error:
            if is_transient(error) and self._defer(record):
                return "DEFERRED"
            raise
        self._counts["applied" if applied else "stale"] += 1
        if applied and receipt.is_final:
            delivered = receipt.event_type in DELIVERED_EVENTS
            self._counts["delivered" if delivered else "undelivered"] += 1
        logger.info(
            "sms receipt",
            extra={
                "provider_message_id": receipt.message_id,
                "event_type": receipt.event_type,
                "applied": applied,
            },
        )
        return "APPLIED" if applied else "STALE"

    def _defer(self, record: SqsRecord) -> bool:
        """Put the receipt back with a growing delay; False once deferred too often."""
        deferrals = deferrals_of(record) + 1
        if deferrals > self._max_deferrals:
            return False
        delay = min(MAX_DELAY_SECONDS, self._retry_base * 2 ** min(deferrals - 1, 10))
        self._queues.requeue(
            queue_arn=record.event_source_arn,
            body=record.body,
            delay_seconds=delay,
            deferrals=deferrals,
        )
        self._counts["deferred"] += 1
        logger.info(
            "sms receipt deferred: status table unavailable",
            extra={"message_id": record.message_id, "deferrals": deferrals},
        )
        return True

    @property
    def last_batch_counts(self) -> dict[str, int]:
        return dict(self._counts)


@cache
def receipt_consumer() -> ReceiptConsumer:
    """The consumer for this execution environment (built on the first invocation)."""
    from courier.settings import get_settings
    from courier.sms.queues import SqsQueues
    from courier.sms.status_store import SmsStatusStore

    settings = get_settings()
    return ReceiptConsumer(
        SmsStatusStore.from_settings(settings),
        SqsQueues.from_settings(settings),
        max_deferrals=settings.sms_max_deferrals,
        retry_base_seconds=max(1, settings.sms_retry_base_seconds),
    )
