"""The DLQ's SQS adapter (courier.sms.dead_letter_queues): in-process moto, and botocore's Stubber
for StartMessageMoveTask, which neither moto 5.2.5 nor MiniStack 1.5.33 implements."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from courier.sms.dead_letter_queues import SqsDeadLetterQueue
from courier.sms.dead_letters import MoveTaskUnsupported

REGION = "ap-northeast-2"
DLQ_ARN = f"arn:aws:sqs:{REGION}:123456789012:dlq"
SOURCE_ARN = f"arn:aws:sqs:{REGION}:123456789012:source"


def text(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


class Queues:
    def __init__(self) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.dlq = self.sqs.create_queue(QueueName="dlq")["QueueUrl"]
        self.source = self.sqs.create_queue(QueueName="source")["QueueUrl"]

    def adapter(self, source: str | None = None) -> SqsDeadLetterQueue:
        return SqsDeadLetterQueue(
            self.sqs,
            dead_letter_queue_url=self.dlq,
            source_queue_url=source or self.source,
            visibility_seconds=30,
            wait_seconds=0,
        )

    def dead_letter(self, job_id: str, **attributes: str) -> str:
        body = json.dumps({"job_id": job_id, "to": "+821012345678", "body": "hi"})
        message_attributes = {name: text(value) for name, value in attributes.items()}
        return str(
            self.sqs.send_message(
                QueueUrl=self.dlq, MessageBody=body, MessageAttributes=message_attributes
            )["MessageId"]
        )

    def visible(self, url: str) -> list[dict[str, Any]]:
        """Every message a consumer could receive right now (and leaves visible)."""
        return self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
        ).get("Messages", [])


@pytest.fixture
def queues(aws_env: None) -> Iterator[Queues]:
    with mock_aws():
        yield Queues()


def test_peeking_leaves_every_message_visible(queues: Queues) -> None:
    # Given three dead letters
    ids = {queues.dead_letter(f"job-{n}", failure_code="X") for n in range(3)}

    # When the adapter peeks (with a 30 s visibility timeout while it reads)
    seen = queues.adapter().peek(limit=100)

    # Then it saw all three, with their attributes, and released each one at once
    assert {m.message_id for m in seen} == ids
    assert all(m.attributes["failure_code"] == "X" and m.receive_count == 1 for m in seen)
    assert {m["MessageId"] for m in queues.visible(queues.dlq)} == ids


def test_peeking_stops_at_the_limit_and_still_releases(queues: Queues) -> None:
    for n in range(5):
        queues.dead_letter(f"job-{n}")
    assert len(queues.adapter().peek(limit=2)) == 2
    assert len(queues.visible(queues.dlq)) == 5


def test_a_move_keeps_the_body_and_other_attributes_and_drops_the_failure_ones(
    queues: Queues,
) -> None:
    # Given a dead letter with failure attributes, a deferral count and an attribute of its own
    moved_id = queues.dead_letter(
        "job-1",
        failure_code="PROVIDER_DOWN",
        failure_reason="why",
        failed_at="2026-11-25T00:00:00+00:00",
        courier_deferrals="7",
        tenant="acme",
    )
    kept_id = queues.dead_letter("job-2", failure_code="PROVIDER_DOWN")
    body = next(m["Body"] for m in queues.visible(queues.dlq) if m["MessageId"] == moved_id)

    # When only the first is moved
    report = queues.adapter().move_each(lambda m: m.message_id == moved_id, limit=100)

    # Then it is on the source queue, untouched but for the dropped attributes
    assert report.moved == [moved_id]
    assert report.failed == {}
    [redriven] = queues.visible(queues.source)
    assert redriven["Body"] == body
    assert redriven["MessageAttributes"] == {"tenant": text("acme")}
    # And gone from the DLQ, where the other one stays visible
    assert [m["MessageId"] for m in queues.visible(queues.dlq)] == [kept_id]


def test_a_failed_send_deletes_nothing(queues: Queues) -> None:
    # Given a source queue URL that does not exist
    message_id = queues.dead_letter("job-1", failure_code="X")
    adapter = queues.adapter(source=queues.source.replace("/source", "/missing"))

    # When the move is attempted
    report = adapter.move_each(lambda m: True, limit=100)

    # Then it is reported failed and the dead letter is still there, visible
    assert report.moved == []
    assert list(report.failed) == [message_id]
    assert [m["MessageId"] for m in queues.visible(queues.dlq)] == [message_id]


def test_moto_has_no_move_task_and_says_so(queues: Queues) -> None:
    with pytest.raises(MoveTaskUnsupported):
        queues.adapter().start_move_task()


def _stubbed(client: Any) -> tuple[SqsDeadLetterQueue, Stubber]:
    stubber = Stubber(client)
    for url, arn in (("https://q/dlq", DLQ_ARN), ("https://q/source", SOURCE_ARN)):
        stubber.add_response(
            "get_queue_attributes",
            {"Attributes": {"QueueArn": arn}},
            {"QueueUrl": url, "AttributeNames": ["QueueArn"]},
        )
    adapter = SqsDeadLetterQueue(
        client, dead_letter_queue_url="https://q/dlq", source_queue_url="https://q/source"
    )
    return adapter, stubber


def test_the_move_task_moves_the_dlq_to_its_source_queue(aws_env: None) -> None:
    # Given SQS answering StartMessageMoveTask (stubbed: no emulator here has it)
    client = boto3.client("sqs", region_name=REGION)
    adapter, stubber = _stubbed(client)
    stubber.add_response(
        "start_message_move_task",
        {"TaskHandle": "handle-1"},
        {"SourceArn": DLQ_ARN, "DestinationArn": SOURCE_ARN},
    )
    # When the task is started, Then it names the DLQ and its source queue by ARN
    with stubber:
        assert adapter.start_move_task() == "handle-1"
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("code", "unsupported"), [("InvalidAction", True), ("AccessDenied", False)]
)
def test_only_a_missing_api_falls_back(aws_env: None, code: str, unsupported: bool) -> None:
    # Given SQS refusing the move task with `code`
    client = boto3.client("sqs", region_name=REGION)
    adapter, stubber = _stubbed(client)
    stubber.add_client_error("start_message_move_task", service_error_code=code)
    # Then a missing API means "move message by message"; anything else is an error
    expected = MoveTaskUnsupported if unsupported else Exception
    with stubber, pytest.raises(expected) as raised:
        adapter.start_move_task()
    assert isinstance(raised.value, MoveTaskUnsupported) is unsupported
