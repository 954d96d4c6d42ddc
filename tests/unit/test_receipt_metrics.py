"""The receipts consumer counts final outcomes it records: the delivery-rate alarm's inputs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from courier import observability
from courier.sms.receipt_consumer import ReceiptConsumer
from courier.sms.status import StatusChange
from tests.harness import load_event


class RecordingMetrics:
    def __init__(self) -> None:
        self.values: dict[str, float] = {}

    def add_metric(self, *, name: str, unit: Any, value: float) -> None:
        self.values[name] = self.values.get(name, 0) + value


class StatusTable:
    """Records every change once: a receipt for a provider message seen before is stale."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def record(self, change: StatusChange, *, describe: dict[str, object] | None = None) -> bool:
        key = f"{change.provider_message_id}:{change.status}"
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def _record(template: str, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(json.dumps(load_event(template)["Records"][0]))
    body = json.loads(record["body"])
    body.update(changes)
    record["body"] = json.dumps(body)
    record["messageId"] = f"{record['messageId']}-{len(json.dumps(changes))}"
    return record


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> RecordingMetrics:
    recorder = RecordingMetrics()
    monkeypatch.setattr(observability, "metrics", recorder)
    return recorder


def test_final_receipts_count_as_delivered_or_undelivered(recorded: RecordingMetrics) -> None:
    # Given a batch: two delivered receipts (one a redelivery of the other), one carrier
    # failure and one interim (not final) event
    delivered = _record("sms/receipt-delivered.json")
    batch = {
        "Records": [
            delivered,
            {**delivered, "messageId": "redelivered"},
            _record("sms/receipt-failed.json"),
            _record("sms/receipt-delivered.json", isFinal=False, eventType="TEXT_PENDING"),
        ]
    }
    consumer = ReceiptConsumer(StatusTable(), queues=None)  # type: ignore[arg-type]

    # When the consumer processes it
    response = consumer.process_batch(batch, None)

    # Then the newly recorded final outcomes are counted once each, the interim one not at all
    assert response["batchItemFailures"] == []
    assert recorded.values["SmsDelivered"] == 1
    assert recorded.values["SmsUndelivered"] == 1
    assert recorded.values["SmsReceiptsApplied"] == 3
    assert recorded.values["SmsReceiptsStale"] == 1


def test_an_idle_batch_still_reports_zero_outcomes(recorded: RecordingMetrics) -> None:
    # Given a batch with only a stale receipt
    table = StatusTable()
    record = _record("sms/receipt-failed.json")
    ReceiptConsumer(table, queues=None).process_batch({"Records": [record]}, None)  # type: ignore[arg-type]
    recorded.values.clear()

    # When the same receipt comes again
    ReceiptConsumer(table, queues=None).process_batch({"Records": [record]}, None)  # type: ignore[arg-type]

    # Then the alarm's two inputs are published as 0 (the alarm's FILL never has to guess),
    # the stale one counted, and no other zero is published (log bytes of every invocation)
    assert recorded.values == {
        "SmsDelivered": 0,
        "SmsUndelivered": 0,
        "SmsReceiptsStale": 1,
    }
