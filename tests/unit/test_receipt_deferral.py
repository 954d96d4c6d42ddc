"""Delivery receipts that meet a throttled status table wait on their queue, no receive burnt."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from courier.sms.receipt_consumer import ReceiptConsumer
from courier.sms.status import StatusChange
from tests.harness import load_event


class ThrottledTable:
    def record(self, change: StatusChange, *, describe: dict[str, object] | None = None) -> bool:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
            "UpdateItem",
        )


class RecordingQueues:
    def __init__(self) -> None:
        self.requeued: list[tuple[float, int]] = []

    def requeue(self, *, queue_arn: str, body: str, delay_seconds: float, deferrals: int) -> None:
        self.requeued.append((delay_seconds, deferrals))


def _event(deferrals: int) -> dict[str, Any]:
    event = load_event("sms/receipt-delivered.json")
    for record in event["Records"]:
        record["messageAttributes"] = {
            "courier_deferrals": {"stringValue": str(deferrals), "dataType": "Number"}
        }
    return event


def test_a_throttled_receipt_is_put_back_with_a_growing_delay() -> None:
    # Given a receipt already deferred twice, and a throttled status table
    queues = RecordingQueues()
    consumer = ReceiptConsumer(ThrottledTable(), queues, max_deferrals=5, retry_base_seconds=5)  # type: ignore[arg-type]

    # When it is processed
    response = consumer.process_batch(_event(2), None)

    # Then it is acknowledged and re-queued 20 s later as its third deferral
    assert response["batchItemFailures"] == []
    assert queues.requeued == [(20, 3)] * len(_event(2)["Records"])


def test_past_the_cap_a_throttled_receipt_fails_back_to_its_queue() -> None:
    queues = RecordingQueues()
    consumer = ReceiptConsumer(ThrottledTable(), queues, max_deferrals=5, retry_base_seconds=5)  # type: ignore[arg-type]

    response = consumer.process_batch(_event(5), None)

    assert len(response["batchItemFailures"]) == len(_event(5)["Records"])
    assert queues.requeued == []
