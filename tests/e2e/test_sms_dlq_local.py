"""`sms dlq` end to end against the local runtime: list, refuse, redrive, and the deployed
functions processing what went back.

MiniStack 1.5.33 has no StartMessageMoveTask (it answers InvalidAction), so every redrive here
goes message by message; the second test shows the whole-queue attempt falling back.

The sandbox provider cannot be made to fail one job, so the job "lost in a provider outage" is
put on the DLQ as the queue's redrive policy leaves such a job: its body, no failure attributes.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from local.clients import (
    delete_messages,
    outbox,
    send_jobs,
    visible_messages,
    wait_for_statuses,
)
from local.system import STACK_NAME, LocalSystem
from tests.e2e.conftest import Ledger

NUMBER = "+821055507788"


def _dlq(system: LocalSystem, *argv: str) -> tuple[int, dict[str, dict[str, Any]], str]:
    """Run `sms dlq ...` as an operator would; (exit status, stdout lines by message id, stderr)."""
    result = system.run_cli("sms", "dlq", *argv, "--stack", STACK_NAME)
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.returncode, {line["message_id"]: line for line in lines}, result.stderr


def _wait_for_dead_letter(system: LocalSystem, body: str, timeout: float = 60) -> str:
    url = system.outputs["SmsTransactionalDeadLetterQueueUrl"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message_id, m in visible_messages(system, url).items():
            if m["Body"] == body:
                return message_id
    raise AssertionError(f"no dead letter with that body after {timeout:.0f}s")


def test_sent_and_poison_jobs_are_refused_and_a_lost_job_is_redriven_and_sent_once(
    local_system: LocalSystem, ledger: Ledger
) -> None:
    run = uuid.uuid4().hex[:8]
    outputs = local_system.outputs
    sqs = local_system.client("sqs")
    dlq_url = outputs["SmsTransactionalDeadLetterQueueUrl"]
    sent = {"job_id": f"dlq-{run}-sent", "to": NUMBER, "body": f"Sent once {run}"}
    lost = {"job_id": f"dlq-{run}-lost", "to": NUMBER, "body": f"Lost in an outage {run}"}
    poison = '{"schema_version": 1, "job_id": "dlq-' + run + '-poison", "to": "+8210'

    # Given a job the deployed sender has SENT
    send_jobs(local_system, [sent])
    assert wait_for_statuses(local_system, [sent["job_id"]])[sent["job_id"]].status == "SENT"
    ledger.job(sent["job_id"], "transactional", "SENT")
    # And a poison message, which the sender dead-letters with its reason
    sqs.send_message(QueueUrl=outputs["SmsTransactionalQueueUrl"], MessageBody=poison)
    poison_id = _wait_for_dead_letter(local_system, poison)
    # And, as an outage's redrive policy leaves them, a second copy of the SENT job and a job
    # that was never sent
    copy_id = sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(sent))["MessageId"]
    lost_id = sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(lost))["MessageId"]

    try:
        # When the DLQ is listed
        status, listed, err = _dlq(local_system, "list", "transactional")

        # Then each shows its failure code, job and masked number, never the number or text
        assert status == 0, err
        assert listed[poison_id]["failure_code"] == "MALFORMED_JSON"
        assert listed[poison_id]["parse_error"].startswith("MALFORMED_JSON")
        assert listed[copy_id]["failure_code"] == "MAX_RECEIVES"
        assert (listed[lost_id]["job_id"], listed[lost_id]["to_masked"]) == (
            lost["job_id"],
            "+82********88",
        )
        printed = json.dumps(list(listed.values()))
        assert NUMBER not in printed
        assert run not in printed.replace(f"dlq-{run}-", "")  # the bodies' text
        # And listing left every message visible
        attributes = sqs.get_queue_attributes(
            QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"

        # When a redrive of the three is planned (a dry run: no --apply)
        mine = ["--message-id", poison_id, "--message-id", copy_id, "--message-id", lost_id]
        status, planned, err = _dlq(local_system, "redrive", "transactional", *mine)

        # Then the SENT job and the poison are refused, the lost job would go, nothing moved
        assert {i: (line["action"], line["refusal"]) for i, line in planned.items()} == {
            lost_id: ("would_redrive", None),
            copy_id: ("refused", "ALREADY_SENT"),
            poison_id: ("refused", "UNPARSEABLE"),
        }
        assert status == 1
        assert "nothing moved" in err
        assert {poison_id, copy_id, lost_id} <= set(visible_messages(local_system, dlq_url))

        # When it is applied
        status, applied, err = _dlq(local_system, "redrive", "transactional", *mine, "--apply")

        # Then only the lost job went back to its queue
        assert {i: line["action"] for i, line in applied.items()} == {
            lost_id: "redriven",
            copy_id: "refused",
            poison_id: "refused",
        }
        assert "redriven=1 method=per-message" in err
        # And the deployed sender sent it, once, through the sandbox provider
        record = wait_for_statuses(local_system, [lost["job_id"]])[lost["job_id"]]
        assert record.status == "SENT"
        ledger.job(lost["job_id"], "transactional", "SENT")
        time.sleep(2)  # room for a duplicate send to show up, were there one
        accepted = [line for line in outbox(local_system) if line["job_id"] == lost["job_id"]]
        assert len(accepted) == 1
        # And the refused ones are still in the DLQ, visible
        left = visible_messages(local_system, dlq_url)
        assert lost_id not in left
        assert {poison_id, copy_id} <= set(left)
    finally:
        delete_messages(local_system, dlq_url, {poison_id, copy_id, lost_id})


def test_a_whole_receipts_dlq_is_redriven_message_by_message_where_sqs_has_no_move_task(
    local_system: LocalSystem, ledger: Ledger
) -> None:
    run = uuid.uuid4().hex[:8]
    outputs = local_system.outputs
    sqs = local_system.client("sqs")
    dlq_url = outputs["SmsEventsDeadLetterQueueUrl"]
    job = {"job_id": f"dlq-{run}-receipt", "to": NUMBER, "body": f"Receipt {run}"}
    # Given a SENT job, and the only message in the receipts DLQ: a (non-final) receipt for it
    send_jobs(local_system, [job])
    record = wait_for_statuses(local_system, [job["job_id"]])[job["job_id"]]
    ledger.job(job["job_id"], "transactional", "SENT")
    assert visible_messages(local_system, dlq_url) == {}
    receipt = {
        "eventType": "TEXT_PENDING",
        "eventTimestamp": int(time.time() * 1000),
        "isFinal": False,
        "messageId": record.provider_message_id,
        "destinationPhoneNumber": NUMBER,
        "context": {"job_id": job["job_id"]},
    }
    receipt_id = sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(receipt))["MessageId"]

    # When the whole queue is redriven
    status, applied, err = _dlq(local_system, "redrive", "events", "--all", "--apply")

    # Then SQS's move task was tried; MiniStack has none, so the receipt went by itself
    assert status == 0, err
    assert applied[receipt_id]["action"] == "redriven"
    assert applied[receipt_id]["to"] == "+82********88"
    assert "method=per-message" in err
    assert "InvalidAction" in err
    # And the deployed status function applied it (the job stays SENT: the receipt is not final)
    table = local_system.client_resource("dynamodb").Table(outputs["SmsMessagesTableName"])
    deadline = time.monotonic() + 60
    item: dict[str, Any] = {}
    while time.monotonic() < deadline and item.get("carrier_event") != "TEXT_PENDING":
        time.sleep(0.5)
        item = table.get_item(Key={"pk": f"JOB#{job['job_id']}"}, ConsistentRead=True)["Item"]
    assert item.get("carrier_event") == "TEXT_PENDING"
    assert item["status"] == "SENT"
    assert visible_messages(local_system, dlq_url) == {}
