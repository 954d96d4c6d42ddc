"""The alarms deployed into the local system: a poison SMS job raises the transactional DLQ's
depth metric, and MiniStack evaluates the DLQ alarm to ALARM (local/alarms.py says how far its
evaluation goes)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta

from local.alarms import alarm_states, publish_queue_depths, render
from local.system import STACK_NAME, LocalSystem

DLQ_ALARM = f"{STACK_NAME}-sms-transactional-dlq"


def _dlq_depth(system: LocalSystem) -> int:
    attributes = system.client("sqs").get_queue_attributes(
        QueueUrl=system.outputs["SmsTransactionalDeadLetterQueueUrl"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def _dlq_metric_maximum(system: LocalSystem, since: datetime) -> float | None:
    queue_name = system.outputs["SmsTransactionalDeadLetterQueueUrl"].rsplit("/", 1)[-1]
    points = system.client("cloudwatch").get_metric_statistics(
        Namespace="AWS/SQS",
        MetricName="ApproximateNumberOfMessagesVisible",
        Dimensions=[{"Name": "QueueName", "Value": queue_name}],
        StartTime=since,
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return max((p["Maximum"] for p in points), default=None)


def test_the_stack_deploys_its_alarms_and_dashboard(local_system: LocalSystem) -> None:
    # Given the local system, deployed from template.yaml with the local samconfig environment
    states = {a.name: a for a in alarm_states(local_system.client, STACK_NAME)}

    # Then every single-metric alarm is there (math and composite ones are off locally)
    assert DLQ_ALARM in states
    assert f"{STACK_NAME}-sms-bulk-dlq" in states
    assert f"{STACK_NAME}-sms-transactional-sender-errors" in states
    assert f"{STACK_NAME}-stats-executions-failed" in states
    assert f"{STACK_NAME}-sms-failure-rate" not in states
    assert f"{STACK_NAME}-sms-degraded" not in states
    assert all(a.kind == "metric" for a in states.values())
    dashboards = local_system.client("cloudwatch").list_dashboards()["DashboardEntries"]
    assert STACK_NAME in {d["DashboardName"] for d in dashboards}


def test_a_poison_job_raises_the_dlq_metric_and_its_alarm(local_system: LocalSystem) -> None:
    # Given the transactional DLQ's depth as CloudWatch sees it now
    started = datetime.now(UTC) - timedelta(seconds=5)
    before = _dlq_depth(local_system)
    publish_queue_depths(local_system.client, STACK_NAME)
    assert _dlq_metric_maximum(local_system, started) == before

    # When a job that breaks the SmsJob schema is queued (the sender dead-letters it at once)
    marker = f"alarm-poison-{uuid.uuid4().hex[:8]}"
    sqs = local_system.client("sqs")
    sqs.send_message(
        QueueUrl=local_system.outputs["SmsTransactionalQueueUrl"],
        MessageBody=json.dumps({"job_id": marker, "to": 12345}),
    )
    deadline = time.monotonic() + 90
    while _dlq_depth(local_system) <= before and time.monotonic() < deadline:
        time.sleep(0.5)
    depths = publish_queue_depths(local_system.client, STACK_NAME)

    # Then the DLQ's ApproximateNumberOfMessagesVisible rose, and MiniStack evaluated the
    # alarm on that datapoint to ALARM
    print("\n" + render(alarm_states(local_system.client, STACK_NAME), depths))
    assert _dlq_metric_maximum(local_system, started) == before + 1
    states = {a.name: a for a in alarm_states(local_system.client, STACK_NAME)}
    assert states[DLQ_ALARM].state == "ALARM", states[DLQ_ALARM]
    assert "Threshold Crossed" in states[DLQ_ALARM].reason

    # And the poison job is in the DLQ with its reason (then removed: other suites read it)
    found = []
    for _ in range(10):
        messages = sqs.receive_message(
            QueueUrl=local_system.outputs["SmsTransactionalDeadLetterQueueUrl"],
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=5,
        ).get("Messages", [])
        found += [m for m in messages if marker in m["Body"]]
        if found:
            break
    assert found, "the poison job is not in the transactional DLQ"
    sqs.delete_message(
        QueueUrl=local_system.outputs["SmsTransactionalDeadLetterQueueUrl"],
        ReceiptHandle=found[0]["ReceiptHandle"],
    )
