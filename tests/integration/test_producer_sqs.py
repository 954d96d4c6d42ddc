"""The producer against in-process SQS (moto): jobs land on the right queue, intact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from courier.sms.contract import Priority, SmsJob
from courier.sms.producer import SmsProducer, send_jobs

REGION = "ap-northeast-2"


@pytest.fixture
def queues(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[Priority, str]]:
    from courier.settings import get_settings

    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        urls = {
            Priority.TRANSACTIONAL: sqs.create_queue(QueueName="sms-transactional")["QueueUrl"],
            Priority.BULK: sqs.create_queue(QueueName="sms-bulk")["QueueUrl"],
        }
        monkeypatch.setenv("SMS_TRANSACTIONAL_QUEUE_URL", urls[Priority.TRANSACTIONAL])
        monkeypatch.setenv("SMS_BULK_QUEUE_URL", urls[Priority.BULK])
        get_settings.cache_clear()
        yield urls
    get_settings.cache_clear()


def drain(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        messages.extend(batch)
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return messages


def delayed_count(url: str) -> int:
    sqs = boto3.client("sqs", region_name=REGION)
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessagesDelayed"])


def mixed_jobs(count: int) -> list[SmsJob]:
    bodies = ["Your code is 482913", "[Courier] 인증번호는 482913 입니다.", "Sale 🌸 20% off"]
    return [
        SmsJob(
            job_id=f"it-{i:03d}",
            to=f"+8210{5550000 + i:08d}",
            body=bodies[i % 3],
            priority=Priority.BULK if i % 3 == 2 else Priority.TRANSACTIONAL,
            metadata={"n": i, "batch": "integration"},
            send_at=datetime(2030, 1, 1, tzinfo=UTC) if i % 5 == 0 else None,
        )
        for i in range(count)
    ]


def test_25_mixed_jobs_land_on_their_queues(queues: dict[Priority, str]) -> None:
    # Given 25 jobs, every third one bulk, some scheduled far ahead (no SQS delay)
    jobs = mixed_jobs(25)
    # When they are sent with a producer built from the environment
    results = send_jobs(jobs, producer=SmsProducer.from_settings())
    # Then all are queued, in input order, each with an SQS message id
    assert [r.job_id for r in results] == [j.job_id for j in jobs]
    assert all(r.status == "queued" and r.message_id for r in results)
    # And each queue holds exactly the jobs of its priority
    received = {p: drain(url) for p, url in queues.items()}
    for priority, messages in received.items():
        expected = {j.job_id: j for j in jobs if j.priority is priority}
        parsed = [SmsJob.model_validate_json(m["Body"]) for m in messages]
        assert sorted(j.job_id for j in parsed) == sorted(expected)
        # And every body parses back into the very job that was sent
        for job, message in zip(parsed, messages, strict=True):
            assert job == expected[job.job_id]
            attrs = message["MessageAttributes"]
            assert attrs["job_id"]["StringValue"] == job.job_id
            assert attrs["priority"]["StringValue"] == priority.value
            assert attrs["schema_version"] == {"StringValue": "1", "DataType": "Number"}
    assert len(received[Priority.BULK]) == 8
    assert len(received[Priority.TRANSACTIONAL]) == 17
    # And the message ids in the results are the ones SQS holds
    ids = {m["MessageId"] for messages in received.values() for m in messages}
    assert ids == {r.message_id for r in results}


def test_near_send_at_is_delayed_by_sqs(queues: dict[Priority, str]) -> None:
    # Given a job due in ten minutes and one due now
    soon = datetime.now(UTC) + timedelta(minutes=10)
    jobs = [
        SmsJob(job_id="soon", to="+821055500001", body="later", send_at=soon),
        SmsJob(job_id="now", to="+821055500002", body="now"),
    ]
    # When they are sent
    results = send_jobs(jobs, producer=SmsProducer.from_settings())
    # Then both are queued, but only the one due now is visible; the other waits in SQS
    assert [r.status for r in results] == ["queued", "queued"]
    url = queues[Priority.TRANSACTIONAL]
    assert [json.loads(m["Body"])["job_id"] for m in drain(url)] == ["now"]
    assert delayed_count(url) == 1


def test_invalid_and_duplicate_jobs_stay_off_the_queues(queues: dict[Priority, str]) -> None:
    # Given a valid job, its duplicate and an invalid one
    jobs: list[Any] = [
        {"job_id": "dup", "to": "+821055500001", "body": "one"},
        {"job_id": "dup", "to": "+821055500001", "body": "one"},
        {"job_id": "bad", "to": "+821055500001", "body": ""},
    ]
    # When they are sent
    results = send_jobs(jobs, producer=SmsProducer.from_settings())
    # Then one message is on the queue and the others are reported invalid
    assert [r.status for r in results] == ["queued", "invalid", "invalid"]
    assert len(drain(queues[Priority.TRANSACTIONAL])) == 1
    assert drain(queues[Priority.BULK]) == []
