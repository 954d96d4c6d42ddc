"""`sms dlq` against moto: jobs dead-lettered by the sender and by a real redrive policy, then
listed, planned (dry run), redriven and sent by the sender in-process.

moto 5.2.5 has no StartMessageMoveTask (NotImplementedError), so every redrive here goes message
by message; the move task's request is checked in tests/unit/test_dead_letters_sqs.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from courier.settings import get_settings
from courier.sms.cli import main
from courier.sms.providers import OutboundSms, ProviderAccepted, RetryableSendError
from courier.sms.providers.sandbox import SandboxProvider
from courier.sms.sqs_consumer import SqsJobConsumer
from courier.sms.wiring import build_consumer
from tests.harness import SmsStack

SOURCE, DLQ = "courier-sms-transactional", "courier-sms-transactional-dlq"
MAX_RECEIVE_COUNT = 3
NUMBER = "+821012345678"
POISON_BODY = '{"schema_version": 1, "job_id": "poison-1", "to": "+8210'


class ProviderDown:
    """Every send is throttled: the job keeps failing until the redrive policy takes it."""

    name = "sandbox"
    sends_receipts = False

    def send(self, message: OutboundSms) -> ProviderAccepted:
        raise RetryableSendError("THROTTLED", "ThrottlingException")


def job(job_id: str) -> str:
    return json.dumps({"job_id": job_id, "to": NUMBER, "body": f"Your code for {job_id}"})


def run_sender(stack: SmsStack, consumer: SqsJobConsumer) -> dict[str, Any]:
    """One event source mapping poll: receive, invoke, delete what succeeded."""
    messages = stack.sqs.receive_message(
        QueueUrl=stack.queue_urls[SOURCE],
        MaxNumberOfMessages=10,
        VisibilityTimeout=30,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    if not messages:
        return {"batchItemFailures": []}
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
            "messageAttributes": {
                name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
                for name, value in m.get("MessageAttributes", {}).items()
            },
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": stack.arn(SOURCE),
            "awsRegion": "ap-northeast-2",
        }
        for m in messages
    ]
    response = consumer.process_batch({"Records": records}, None)
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    for m in messages:
        if m["MessageId"] not in failed:
            stack.sqs.delete_message(
                QueueUrl=stack.queue_urls[SOURCE], ReceiptHandle=m["ReceiptHandle"]
            )
    return response


def visible(stack: SmsStack, name: str, *, polls: int = 3) -> list[dict[str, Any]]:
    """What a consumer could receive right now (left visible). Each poll is a receive: on the
    source queue it counts toward maxReceiveCount, so look there once."""
    found: dict[str, dict[str, Any]] = {}
    for _ in range(polls):
        for m in stack.sqs.receive_message(
            QueueUrl=stack.queue_urls[name],
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            MessageAttributeNames=["All"],
        ).get("Messages", []):
            found[m["MessageId"]] = m
    return list(found.values())


def dlq(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    """Run `sms dlq ...`; (exit status, stdout JSON lines, stderr)."""
    status = main(["dlq", *argv])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


@pytest.fixture
def dead_letters(sms_stack: SmsStack, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Three dead letters on the transactional DLQ; message id by what it is."""
    # Given the transactional queue with the template's kind of redrive policy
    dlq_arn = sms_stack.arn(DLQ)
    sms_stack.sqs.set_queue_attributes(
        QueueUrl=sms_stack.queue_urls[SOURCE],
        Attributes={
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
            )
        },
    )
    monkeypatch.setenv("SMS_TRANSACTIONAL_DEAD_LETTER_QUEUE_URL", sms_stack.queue_urls[DLQ])
    get_settings.cache_clear()
    # And a job already SENT, one that keeps failing, and a poison body
    sandbox = SandboxProvider(seed=1)
    sms_stack.sqs.send_message(QueueUrl=sms_stack.queue_urls[SOURCE], MessageBody=job("sent-1"))
    run_sender(sms_stack, build_consumer(get_settings(), provider=sandbox))
    assert sandbox.successes_by_job["sent-1"] == 1

    sms_stack.sqs.send_message(QueueUrl=sms_stack.queue_urls[SOURCE], MessageBody=job("down-1"))
    sms_stack.sqs.send_message(QueueUrl=sms_stack.queue_urls[SOURCE], MessageBody=POISON_BODY)
    failing = build_consumer(get_settings(), provider=ProviderDown())
    for _ in range(MAX_RECEIVE_COUNT + 1):  # the last receive finds it past maxReceiveCount
        run_sender(sms_stack, failing)
    # And a second copy of the SENT job, dead-lettered by the policy during the same outage
    sms_stack.sqs.send_message(QueueUrl=sms_stack.queue_urls[DLQ], MessageBody=job("sent-1"))

    ids: dict[str, str] = {}
    for m in visible(sms_stack, DLQ):
        body = m["Body"]
        ids["poison" if body == POISON_BODY else json.loads(body)["job_id"]] = m["MessageId"]
    assert sorted(ids) == ["down-1", "poison", "sent-1"]
    return ids


def test_listing_shows_why_each_job_failed_masked_and_leaves_them_visible(
    sms_stack: SmsStack, dead_letters: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # When the transactional DLQ is listed
    status, lines, err = dlq(capsys, "list", "transactional")

    # Then each message shows its failure code and reason, job and masked number
    assert status == 0
    by_id = {line["message_id"]: line for line in lines}
    assert set(by_id) == set(dead_letters.values())
    down, poison = by_id[dead_letters["down-1"]], by_id[dead_letters["poison"]]
    assert (down["failure_code"], down["job_id"], down["to_masked"]) == (
        "MAX_RECEIVES",
        "down-1",
        "+82********78",
    )
    assert down["receive_count"] > MAX_RECEIVE_COUNT
    assert poison["failure_code"] == "MALFORMED_JSON"
    assert "not JSON" in poison["failure_reason"]
    assert poison["parse_error"].startswith("MALFORMED_JSON")
    # And never the full number or the text
    printed = json.dumps(lines)
    assert NUMBER not in printed
    assert "Your code" not in printed
    assert "messages=3" in err
    # And a consumer can receive all three right away: listing hid nothing
    assert len(visible(sms_stack, DLQ)) == 3


def test_redrive_refuses_sent_and_poison_sends_the_eligible_job_once(
    sms_stack: SmsStack, dead_letters: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    # When a redrive of everything is planned (no --apply)
    status, lines, err = dlq(capsys, "redrive", "transactional", "--all")

    # Then it says what it would do, refuses the SENT job and the poison, and moves nothing
    actions = {line["message_id"]: (line["action"], line["refusal"]) for line in lines}
    assert actions == {
        dead_letters["down-1"]: ("would_redrive", None),
        dead_letters["sent-1"]: ("refused", "ALREADY_SENT"),
        dead_letters["poison"]: ("refused", "UNPARSEABLE"),
    }
    assert status == 1
    assert "nothing moved" in err
    assert len(visible(sms_stack, DLQ)) == 3
    assert visible(sms_stack, SOURCE, polls=1) == []

    # When it is applied
    status, lines, err = dlq(capsys, "redrive", "transactional", "--all", "--apply")

    # Then only the eligible job went back, message by message (moto has no move task)
    assert {line["message_id"]: line["action"] for line in lines} == {
        dead_letters["down-1"]: "redriven",
        dead_letters["sent-1"]: "refused",
        dead_letters["poison"]: "refused",
    }
    assert "redriven=1 method=per-message" in err
    assert {m["MessageId"] for m in visible(sms_stack, DLQ)} == {
        dead_letters["sent-1"],
        dead_letters["poison"],
    }
    [redriven] = visible(sms_stack, SOURCE, polls=1)
    assert json.loads(redriven["Body"])["job_id"] == "down-1"
    assert "failure_code" not in redriven.get("MessageAttributes", {})

    # And once the provider is back, the sender sends it, exactly once
    sandbox = SandboxProvider(seed=2)
    consumer = build_consumer(get_settings(), provider=sandbox)
    assert run_sender(sms_stack, consumer) == {"batchItemFailures": []}
    assert sandbox.successes_by_job["down-1"] == 1
    assert sms_stack.status_items()["down-1"]["status"] == "SENT"

    # When the SENT job's copy is forced back
    status, lines, _ = dlq(
        capsys,
        "redrive",
        "transactional",
        "--message-id",
        dead_letters["sent-1"],
        "--apply",
        "--force",
    )
    assert status == 0
    assert [(line["action"], line["forced"]) for line in lines] == [("redriven", True)]

    # Then the sender's idempotency keeps it from a second send
    run_sender(sms_stack, consumer)
    assert sandbox.successes_by_job["sent-1"] == 0
    assert consumer.last_batch_counts["deduplicated"] == 1
    assert [m["MessageId"] for m in visible(sms_stack, DLQ)] == [dead_letters["poison"]]

    # When the poison, now all the DLQ holds, is forced back with --all
    status, lines, err = dlq(capsys, "redrive", "transactional", "--all", "--apply", "--force")

    # Then the whole-queue move task is tried first; moto has none, so it goes message by message
    assert status == 0
    assert [line["action"] for line in lines] == ["redriven"]
    assert "method=per-message" in err
    assert "not been implemented" in err
    # And the sender only dead-letters it again, with the same reason
    run_sender(sms_stack, consumer)
    [again] = visible(sms_stack, DLQ)
    assert again["Body"] == POISON_BODY
    assert again["MessageAttributes"]["failure_code"]["StringValue"] == "MALFORMED_JSON"


def test_show_explains_one_message_and_its_verdict(
    dead_letters: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["dlq", "show", "transactional", dead_letters["sent-1"]])
    shown = json.loads(capsys.readouterr().out)
    assert status == 0
    assert shown["action"] == "refused"
    assert shown["refusal"] == "ALREADY_SENT"
    assert shown["job_status"] == "SENT"
    assert shown["idempotency_expires_at"] is not None
    assert shown["letter"]["failure_code"] == "MAX_RECEIVES"
    assert main(["dlq", "show", "transactional", "no-such-message"]) == 1
