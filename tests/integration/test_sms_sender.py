"""The sender handler in-process against moto (SQS, DynamoDB) with the sandbox provider."""

from __future__ import annotations

import copy
import json
from collections import Counter
from typing import Any

import pytest

import sender
from courier.settings import get_settings
from courier.sms.providers import OutboundSms, ProviderAccepted, RetryableSendError
from courier.sms.providers.sandbox import SandboxProvider
from courier.sms.wiring import build_consumer
from tests.harness import SmsStack, load_event


class ThrottledFirst:
    """Wraps a provider: the named jobs are throttled on their first attempt only."""

    name = "sandbox"
    sends_receipts = False

    def __init__(self, inner: SandboxProvider, job_ids: set[str]) -> None:
        self.inner = inner
        self.pending = set(job_ids)
        self.attempts: Counter[str] = Counter()

    def send(self, message: OutboundSms) -> ProviderAccepted:
        self.attempts[message.job_id] += 1
        if message.job_id in self.pending:
            self.pending.discard(message.job_id)
            raise RetryableSendError("THROTTLED", "ThrottlingException")
        return self.inner.send(message)


def throttled_record() -> dict[str, Any]:
    record = copy.deepcopy(load_event("sms/sender-valid.json")["Records"][0])
    record["messageId"] = "0b1e7c3a-0000-4000-8000-0000000000ff"
    job = json.loads(record["body"])
    job.update(job_id="otp-20261125-0401", to="+821033334444")
    record["body"] = json.dumps(job)
    return record


def mixed_batch() -> dict[str, Any]:
    records: list[dict[str, Any]] = []
    for name in ("valid", "duplicate", "malformed", "invalid-number", "opted-out"):
        records += load_event(f"sms/sender-{name}.json")["Records"]
    records.append(throttled_record())
    return {"Records": records}


def failed_ids(response: dict[str, Any]) -> list[str]:
    return sorted(item["itemIdentifier"] for item in response["batchItemFailures"])


def test_mixed_batch_yields_exact_failures_statuses_dead_letters_and_calls(
    sms_stack: SmsStack,
) -> None:
    # Given a sandbox provider that throttles one job once, and an opted-out number
    sms_stack.opt_out("+821055554444")
    sandbox = SandboxProvider(seed=1)
    provider = ThrottledFirst(sandbox, {"otp-20261125-0401"})
    consumer = build_consumer(get_settings(), provider=provider)
    event = mixed_batch()

    # When the mixed batch is processed
    response = consumer.process_batch(event, None)

    # Then only the throttled record is handed back for a retry
    assert failed_ids(response) == ["0b1e7c3a-0000-4000-8000-0000000000ff"]
    # And the provider accepted each sendable job exactly once (the in-batch duplicate is skipped)
    assert sandbox.successes_by_job == Counter(
        {
            "otp-20261125-0001": 1,
            "notice-20261125-0002": 1,
            "otp-20261125-0003": 1,
            "otp-20261125-0101": 1,
        }
    )
    # And invalid or opted-out numbers never reached the provider
    assert provider.attempts["otp-20261125-0201"] == 0
    assert provider.attempts["promo-20261125-0301"] == 0
    assert provider.attempts["otp-20261125-0401"] == 1
    # And the status table holds exactly the expected records
    items = sms_stack.status_items()
    assert {job: item["status"] for job, item in items.items()} == {
        "otp-20261125-0001": "SENT",
        "notice-20261125-0002": "SENT",
        "otp-20261125-0003": "SENT",
        "otp-20261125-0101": "SENT",
        "otp-20261125-0201": "FAILED",
        "promo-20261125-0301": "FAILED",
    }
    assert items["otp-20261125-0201"]["reason"] == "INVALID_NUMBER"
    assert items["promo-20261125-0301"]["reason"] == "OPTED_OUT"
    assert items["notice-20261125-0002"]["encoding"] == "UCS-2"
    assert items["notice-20261125-0002"]["parts"] == 1
    assert items["otp-20261125-0001"]["metadata"] == {"purpose": "login"}
    assert items["otp-20261125-0001"]["to_masked"] == "+82********78"
    assert items["otp-20261125-0001"]["provider_message_id"].startswith("sandbox-")
    # And both malformed records are in the DLQ with their reasons, untouched
    dead = sms_stack.drain("courier-sms-transactional-dlq")
    assert sorted(m["MessageAttributes"]["failure_code"]["StringValue"] for m in dead) == [
        "MALFORMED_JSON",
        "SCHEMA_VIOLATION",
    ]
    malformed_bodies = {r["body"] for r in load_event("sms/sender-malformed.json")["Records"]}
    assert {m["Body"] for m in dead} == malformed_bodies
    violation = next(
        m
        for m in dead
        if m["MessageAttributes"]["failure_code"]["StringValue"] == "SCHEMA_VIOLATION"
    )
    reason = violation["MessageAttributes"]["failure_reason"]["StringValue"]
    assert "job_id" in reason
    assert "to" in reason
    assert "body" in reason
    assert consumer.last_batch_counts == {
        "sent": 4,
        "failed": 2,
        "deduplicated": 1,
        "dead_lettered": 2,
        "retried": 1,
        "parts": 4,
    }

    # When the whole batch is delivered again (SQS at-least-once, or a producer replay)
    replay = consumer.process_batch(event, None)

    # Then nothing is sent twice: the throttled job goes out now, every other job is a duplicate
    assert replay["batchItemFailures"] == []
    assert all(count == 1 for count in sandbox.successes_by_job.values())
    assert sandbox.successes_by_job["otp-20261125-0401"] == 1
    assert len(sandbox.sent) == 5
    assert consumer.last_batch_counts["deduplicated"] == 7
    assert sms_stack.status_items()["otp-20261125-0401"]["status"] == "SENT"


def test_handler_runs_the_event_file_as_sam_local_invoke_would(
    sms_stack: SmsStack, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    # Given the deployed wiring (provider chosen by settings: the sandbox)
    sender.sms_consumer.cache_clear()

    # When the valid-jobs event file goes through the Lambda entry point
    response = sender.handler(load_event("sms/sender-valid.json"), lambda_context)

    # Then every job is SENT and nothing is retried
    assert response == {"batchItemFailures": []}
    assert {item["status"] for item in sms_stack.status_items().values()} == {"SENT"}
    sender.sms_consumer.cache_clear()


def test_job_id_reused_with_another_text_is_dead_lettered(sms_stack: SmsStack) -> None:
    # Given a job that was sent
    sandbox = SandboxProvider()
    consumer = build_consumer(get_settings(), provider=sandbox)
    event = load_event("sms/sender-invalid-number.json")
    consumer.process_batch(event, None)

    # When a different text arrives under the same job_id
    reused = copy.deepcopy(event)
    job = json.loads(reused["Records"][0]["body"])
    job["body"] = "A different text"
    reused["Records"][0]["body"] = json.dumps(job)
    response = consumer.process_batch(reused, None)

    # Then it is not sent, not retried, and parked in the DLQ with the reason
    assert response["batchItemFailures"] == []
    assert sandbox.calls == 0
    dead = sms_stack.drain("courier-sms-transactional-dlq")
    assert [m["MessageAttributes"]["failure_code"]["StringValue"] for m in dead] == [
        "JOB_ID_REUSED"
    ]


def test_retryable_failure_pushes_visibility_out_with_backoff(
    sms_stack: SmsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a provider that always throttles, and a real message on the source queue
    monkeypatch.setenv("SMS_RETRY_BASE_SECONDS", "30")
    url = sms_stack.queue_urls["courier-sms-transactional"]
    body = load_event("sms/sender-valid.json")["Records"][0]["body"]
    sms_stack.sqs.send_message(QueueUrl=url, MessageBody=body)
    received = sms_stack.sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0]
    record = copy.deepcopy(load_event("sms/sender-valid.json")["Records"][0])
    record["receiptHandle"] = received["ReceiptHandle"]
    record["attributes"]["ApproximateReceiveCount"] = "3"
    provider = ThrottledFirst(SandboxProvider(), {"otp-20261125-0001"})
    consumer = build_consumer(get_settings(), provider=provider)

    # When the send is throttled
    response = consumer.process_batch({"Records": [record]}, None)

    # Then the record is a batch item failure and stays hidden for the backoff (not 1 s)
    assert failed_ids(response) == [record["messageId"]]
    assert 60 <= consumer.backoff_seconds(3) <= 120
    import time

    time.sleep(1.2)
    assert sms_stack.sqs.receive_message(QueueUrl=url).get("Messages", []) == []


def test_future_send_at_is_requeued_with_a_delay(sms_stack: SmsStack) -> None:
    # Given a job due in ten minutes
    from datetime import UTC, datetime, timedelta

    record = copy.deepcopy(load_event("sms/sender-valid.json")["Records"][0])
    job = json.loads(record["body"])
    job["send_at"] = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    record["body"] = json.dumps(job)
    sandbox = SandboxProvider()
    consumer = build_consumer(get_settings(), provider=sandbox)

    # When it is processed now
    response = consumer.process_batch({"Records": [record]}, None)

    # Then nothing is sent yet and a delayed copy waits on the source queue
    assert response["batchItemFailures"] == []
    assert sandbox.calls == 0
    assert consumer.last_batch_counts["scheduled"] == 1
    attributes = sms_stack.sqs.get_queue_attributes(
        QueueUrl=sms_stack.queue_urls["courier-sms-transactional"],
        AttributeNames=["ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


def test_the_bulk_sender_dead_letters_requeues_and_backs_off_on_its_own_queues(
    sms_stack: SmsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the bulk sender's environment (its dead-letter queue) and records from its queue:
    # the mixed batch, plus a job due in ten minutes
    from datetime import UTC, datetime, timedelta

    monkeypatch.setenv("SMS_DEAD_LETTER_QUEUE_URL", sms_stack.queue_urls["courier-sms-bulk-dlq"])
    get_settings.cache_clear()
    sms_stack.opt_out("+821055554444")
    later = copy.deepcopy(load_event("sms/sender-valid.json")["Records"][0])
    job = json.loads(later["body"])
    job.update(
        job_id="notice-20261125-0901",
        send_at=(datetime.now(UTC) + timedelta(minutes=10)).isoformat(),
    )
    later["body"] = json.dumps(job)
    event = mixed_batch()
    event["Records"].append(later)
    for record in event["Records"]:
        record["eventSourceARN"] = sms_stack.arn("courier-sms-bulk")
    provider = ThrottledFirst(SandboxProvider(seed=1), {"otp-20261125-0401"})
    consumer = build_consumer(get_settings(), provider=provider)

    # When the batch is processed
    response = consumer.process_batch(event, None)

    # Then the throttled job is retried, poison jobs are parked on the bulk dead-letter queue,
    # and the later job waits on the bulk queue: the transactional queues are untouched
    assert failed_ids(response) == ["0b1e7c3a-0000-4000-8000-0000000000ff"]
    assert sms_stack.drain("courier-sms-bulk-dlq")
    assert sms_stack.drain("courier-sms-transactional-dlq") == []
    attributes = sms_stack.sqs.get_queue_attributes(
        QueueUrl=sms_stack.queue_urls["courier-sms-bulk"],
        AttributeNames=["ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"


@pytest.mark.parametrize("queue", ["courier-sms-transactional", "courier-sms-bulk"])
def test_the_sns_provider_publishes_each_job_to_its_phone_number(
    sms_stack: SmsStack, monkeypatch: pytest.MonkeyPatch, lambda_context: Any, queue: str
) -> None:
    # Given the deployed wiring with SmsProvider=sns (moto's SNS takes direct SMS), on either
    # sender's queue
    monkeypatch.setenv("SMS_PROVIDER", "sns")
    monkeypatch.setenv("SMS_DEAD_LETTER_QUEUE_URL", sms_stack.queue_urls[f"{queue}-dlq"])
    get_settings.cache_clear()
    sender.sms_consumer.cache_clear()
    event = load_event("sms/sender-valid.json")
    for record in event["Records"]:
        record["eventSourceARN"] = sms_stack.arn(queue)

    # When the valid-jobs event file goes through the Lambda entry point
    response = sender.handler(event, lambda_context)

    # Then every job is SENT through SNS
    assert response == {"batchItemFailures": []}
    items = sms_stack.status_items().values()
    assert {(item["status"], item["provider"]) for item in items} == {("SENT", "sns")}
    sender.sms_consumer.cache_clear()
