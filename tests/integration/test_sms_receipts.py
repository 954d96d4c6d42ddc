"""Delivery receipts through the status handler in-process against moto."""

from __future__ import annotations

import copy
import json
from typing import Any

import receipts
from courier.settings import get_settings
from courier.sms.providers.sandbox import SandboxProvider
from courier.sms.queues import SqsQueues
from courier.sms.receipt_consumer import ReceiptConsumer
from courier.sms.status_store import SmsStatusStore
from courier.sms.wiring import build_consumer
from tests.harness import SmsStack, load_event


def _receipt_event(
    event_type: str, *, final: bool, timestamp: int, job_id: str, message_id: str
) -> dict[str, Any]:
    event = copy.deepcopy(load_event("sms/receipt-delivered.json"))
    body = json.loads(event["Records"][0]["body"])
    body.update(
        eventType=event_type,
        isFinal=final,
        eventTimestamp=timestamp,
        messageId=message_id,
        context={"job_id": job_id},
    )
    event["Records"][0]["body"] = json.dumps(body)
    return event


def _send_valid_jobs() -> SandboxProvider:
    sandbox = SandboxProvider()
    build_consumer(get_settings(), provider=sandbox).process_batch(
        load_event("sms/sender-valid.json"), None
    )
    return sandbox


def test_receipt_event_files_move_sent_jobs_to_delivered_and_failed(
    sms_stack: SmsStack, lambda_context: Any
) -> None:
    # Given two jobs the sender has sent
    _send_valid_jobs()
    receipts.receipt_consumer.cache_clear()

    # When the delivered and the failed receipt files go through the handler
    first = receipts.handler(load_event("sms/receipt-delivered.json"), lambda_context)
    second = receipts.handler(load_event("sms/receipt-failed.json"), lambda_context)

    # Then the jobs are DELIVERED and FAILED with the carrier's reason
    assert first == second == {"batchItemFailures": []}
    items = sms_stack.status_items()
    assert items["otp-20261125-0001"]["status"] == "DELIVERED"
    assert items["otp-20261125-0001"]["carrier_name"] == "SK Telecom"
    assert items["notice-20261125-0002"]["status"] == "FAILED"
    assert items["notice-20261125-0002"]["reason"].startswith("TEXT_CARRIER_UNREACHABLE")
    # And the job's own facts written by the sender stay as they were
    assert items["notice-20261125-0002"]["encoding"] == "UCS-2"
    receipts.receipt_consumer.cache_clear()


def _consumer() -> ReceiptConsumer:
    """The status function's consumer, with its own dead-letter queue (as template.yaml sets it;
    the SMS stack's environment is the transactional sender's)."""
    settings = get_settings()
    dead_letters = settings.sms_dead_letter_queue_url.replace(
        "courier-sms-transactional-dlq", "courier-sms-events-dlq"
    )
    status_settings = settings.model_copy(update={"sms_dead_letter_queue_url": dead_letters})
    return ReceiptConsumer(
        SmsStatusStore.from_settings(settings), SqsQueues.from_settings(status_settings)
    )


def test_out_of_order_and_duplicate_receipts_leave_the_final_state(sms_stack: SmsStack) -> None:
    # Given a sent job
    _send_valid_jobs()
    consumer = _consumer()
    job, message = "otp-20261125-0001", "eum-msg-1"
    delivered = _receipt_event(
        "TEXT_DELIVERED", final=True, timestamp=2_000, job_id=job, message_id=message
    )
    pending = _receipt_event(
        "TEXT_PENDING", final=False, timestamp=1_000, job_id=job, message_id=message
    )

    # When the final DELIVERED receipt arrives before an older PENDING one, and then again
    consumer.process_batch(delivered, None)
    applied = consumer.last_batch_counts
    consumer.process_batch(pending, None)
    late = consumer.last_batch_counts
    consumer.process_batch(delivered, None)
    repeated = consumer.last_batch_counts

    # Then the job stays DELIVERED; the late and the repeated receipts are recognised as stale
    assert sms_stack.status_items()[job]["status"] == "DELIVERED"
    assert sms_stack.status_items()[job]["carrier_event"] == "TEXT_DELIVERED"
    assert (applied["applied"], late["stale"], repeated["stale"]) == (1, 1, 1)


def test_receipt_before_the_sent_record_is_kept_and_the_sender_fills_in(
    sms_stack: SmsStack,
) -> None:
    # Given a receipt for a job whose SENT record is not written yet
    far_future = 4_102_444_800_000  # 2100-01-01: later than the sender's own timestamp
    _consumer().process_batch(
        _receipt_event(
            "TEXT_DELIVERED",
            final=True,
            timestamp=far_future,
            job_id="otp-20261125-0001",
            message_id="eum-early",
        ),
        None,
    )

    # When the sender then records its send
    _send_valid_jobs()

    # Then the job is DELIVERED, and carries the sender's facts (parts, day keys) too
    item = sms_stack.status_items()["otp-20261125-0001"]
    assert item["status"] == "DELIVERED"
    assert item["parts"] == 1
    assert item["day_shard"].startswith(item["day"] + "#")


def test_unknown_message_is_retried_and_malformed_receipt_is_dead_lettered(
    sms_stack: SmsStack,
) -> None:
    # Given a receipt with no job context for a message nobody knows, and a malformed receipt
    unknown = _receipt_event(
        "TEXT_DELIVERED", final=True, timestamp=1, job_id="x", message_id="nobody-knows"
    )
    body = json.loads(unknown["Records"][0]["body"])
    body["context"] = {}
    unknown["Records"][0]["body"] = json.dumps(body)
    malformed = copy.deepcopy(load_event("sms/receipt-failed.json"))
    malformed["Records"][0]["body"] = '{"eventType": "TEXT_DELIVERED"}'
    consumer = _consumer()

    # When both are processed
    response = consumer.process_batch({"Records": unknown["Records"] + malformed["Records"]}, None)

    # Then the unknown one comes back later, the malformed one is parked with its reason
    assert [f["itemIdentifier"] for f in response["batchItemFailures"]] == [
        unknown["Records"][0]["messageId"]
    ]
    dead = sms_stack.drain("courier-sms-events-dlq")
    assert [m["MessageAttributes"]["failure_code"]["StringValue"] for m in dead] == [
        "SCHEMA_VIOLATION"
    ]
    assert "messageId" in dead[0]["MessageAttributes"]["failure_reason"]["StringValue"]


def test_receipt_without_context_finds_its_job_by_provider_message_id(
    sms_stack: SmsStack,
) -> None:
    # Given a sent job, and its provider message id as the status record holds it
    sandbox = _send_valid_jobs()
    store = SmsStatusStore.from_settings(get_settings())
    sent = store.get("otp-20261125-0003")
    assert sent is not None
    assert sent.provider_message_id is not None
    assert sandbox.successes_by_job["otp-20261125-0003"] == 1

    # When a receipt arrives that carries no job context (e.g. sent by another tool)
    event = _receipt_event(
        "TEXT_DELIVERED",
        final=True,
        timestamp=4_102_444_800_000,
        job_id="ignored",
        message_id=sent.provider_message_id,
    )
    body = json.loads(event["Records"][0]["body"])
    body["context"] = {}
    event["Records"][0]["body"] = json.dumps(body)
    response = _consumer().process_batch(event, None)

    # Then the job is found through the by_provider_message index and read back DELIVERED
    assert response["batchItemFailures"] == []
    record = store.get("otp-20261125-0003")
    assert record is not None
    assert (record.status.value, record.parts, record.priority) == ("DELIVERED", 1, "transactional")
    assert record.to_masked == "+14*******23"
    assert record.country == "US"
    assert store.get("no-such-job") is None


def test_a_receipt_meeting_a_throttled_table_waits_on_the_events_queue(
    sms_stack: SmsStack,
) -> None:
    # Given a status table that answers every write with throttling
    from botocore.exceptions import ClientError

    class ThrottledTable:
        def record(self, change: object, *, describe: object = None) -> bool:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "UpdateItem",
            )

        def find_job_by_provider_message(self, provider_message_id: str) -> str | None:
            return None

    settings = get_settings()
    dead_letters = settings.sms_dead_letter_queue_url.replace(
        "courier-sms-transactional-dlq", "courier-sms-events-dlq"
    )
    queues = SqsQueues.from_settings(
        settings.model_copy(update={"sms_dead_letter_queue_url": dead_letters})
    )
    consumer = ReceiptConsumer(ThrottledTable(), queues)  # type: ignore[arg-type]

    # When the delivered receipt file is processed
    response = consumer.process_batch(load_event("sms/receipt-delivered.json"), None)

    # Then it is acknowledged and a delayed copy waits on the events queue
    assert response["batchItemFailures"] == []
    attributes = sms_stack.sqs.get_queue_attributes(
        QueueUrl=sms_stack.queue_urls["courier-sms-events"],
        AttributeNames=["ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessages"],
    )["Attributes"]
    assert sum(int(v) for v in attributes.values()) == 1
