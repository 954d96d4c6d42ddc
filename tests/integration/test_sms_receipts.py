"""Delivery receipts through the status handler in-process against moto."""

from __future__ import annotations

import copy
import dataclasses
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
    status_settings = dataclasses.replace(settings, sms_dead_letter_queue_url=dead_letters)
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
    assert item["sk_time"].endswith("#otp-20261125-0001")
    assert item["day"]


def test_receipts_naming_no_job_or_malformed_are_dead_lettered_with_their_reasons(
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

    # Then neither is retried: both are parked with their reasons, and no record was written
    assert response["batchItemFailures"] == []
    dead = sms_stack.drain("courier-sms-events-dlq")
    reasons = {
        m["MessageAttributes"]["failure_code"]["StringValue"]: m["MessageAttributes"][
            "failure_reason"
        ]["StringValue"]
        for m in dead
    }
    assert set(reasons) == {"NO_JOB_CONTEXT", "SCHEMA_VIOLATION"}
    assert "nobody-knows" in reasons["NO_JOB_CONTEXT"]
    assert "messageId" in reasons["SCHEMA_VIOLATION"]
    assert sms_stack.status_items() == {}


def test_a_receipt_naming_no_job_goes_to_the_dead_letter_queue_with_its_reason(
    sms_stack: SmsStack,
) -> None:
    # Given a sent job, and its provider message id as the status record holds it
    _send_valid_jobs()
    store = SmsStatusStore.from_settings(get_settings())
    sent = store.get("otp-20261125-0003")
    assert sent is not None
    assert sent.provider_message_id is not None

    # When a receipt for that message arrives without the job_id context our senders set
    # (e.g. a message another tool sent through the same configuration set)
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

    # Then it is acknowledged, parked in the events DLQ with the reason, and no record moved
    assert response["batchItemFailures"] == []
    dead = sms_stack.drain("courier-sms-events-dlq")
    assert [m["MessageAttributes"]["failure_code"]["StringValue"] for m in dead] == [
        "NO_JOB_CONTEXT"
    ]
    assert sent.provider_message_id in dead[0]["MessageAttributes"]["failure_reason"]["StringValue"]
    assert json.loads(dead[0]["Body"]) == body
    record = store.get("otp-20261125-0003")
    assert record is not None
    assert record.status.value == "SENT"


def test_the_status_table_has_no_index_by_provider_message_id(sms_stack: SmsStack) -> None:
    # Given the messages table as the template creates it
    table = sms_stack.dynamodb.describe_table(TableName=get_settings().sms_messages_table)["Table"]

    # When its indexes are listed
    names = {index["IndexName"] for index in table.get("GlobalSecondaryIndexes", [])}

    # Then receipts are matched by their Context only, and the stats count from the stream: no
    # index costs a write per job for them
    assert names == {"by_phone"}


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

    settings = get_settings()
    dead_letters = settings.sms_dead_letter_queue_url.replace(
        "courier-sms-transactional-dlq", "courier-sms-events-dlq"
    )
    queues = SqsQueues.from_settings(
        dataclasses.replace(settings, sms_dead_letter_queue_url=dead_letters)
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
