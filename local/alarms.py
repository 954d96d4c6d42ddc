"""`python -m local.runtime alarms`: the stack's alarms and their states on the local system.

MiniStack's SQS publishes no AWS/SQS metrics, so a DLQ alarm there would never see a message.
`publish_queue_depths` stands in for the per-minute feed SQS gives CloudWatch in AWS: it reads
each queue's depth (GetQueueAttributes) and puts it as AWS/SQS ApproximateNumberOfMessagesVisible,
and MiniStack evaluates the stack's alarms on that PutMetricData. Hand-written because no library
feeds an emulator's CloudWatch from its SQS; it runs only against the local system.

What MiniStack's CloudWatch does and does not do (read from its source, ministack 1.5.33):
it evaluates a metric alarm when the alarm is put and on every PutMetricData (AWS/Lambda
metrics it records itself are picked up at the next one), over the points of the last
Period x EvaluationPeriods seconds, comparing one statistic with the threshold; it ignores
the alarm's dimensions (every point of the namespace and metric name counts, so one DLQ's
messages raise every DLQ alarm), DatapointsToAlarm and TreatMissingData; an alarm with no
recent points keeps its state. Its CloudFormation refuses metric-math alarms and has no
composite alarms (the local environment sets CreateMathAndCompositeAlarms=false).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ClientFactory = Callable[[str], Any]


@dataclass(frozen=True)
class AlarmState:
    name: str
    state: str
    kind: str  # "metric" or "composite"
    metric: str  # namespace/metric name, or the composite's rule
    reason: str


@dataclass(frozen=True)
class QueueDepth:
    queue_name: str
    visible: int


def stack_queue_urls(client: ClientFactory, stack_name: str) -> list[str]:
    """The URLs of the stack's SQS queues (a queue's physical id is its URL)."""
    cloudformation = client("cloudformation")
    urls = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack_name):
        for resource in page["StackResourceSummaries"]:
            if resource["ResourceType"] == "AWS::SQS::Queue":
                urls.append(resource["PhysicalResourceId"])
    return sorted(urls)


def publish_queue_depths(client: ClientFactory, stack_name: str) -> list[QueueDepth]:
    """Put each queue's visible messages as AWS/SQS ApproximateNumberOfMessagesVisible."""
    sqs, cloudwatch = client("sqs"), client("cloudwatch")
    depths = []
    for url in stack_queue_urls(client, stack_name):
        attributes = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        depths.append(
            QueueDepth(
                url.rstrip("/").rsplit("/", 1)[-1], int(attributes["ApproximateNumberOfMessages"])
            )
        )
    now = datetime.now(UTC)
    # One request per queue: each PutMetricData makes MiniStack evaluate every alarm.
    for depth in depths:
        cloudwatch.put_metric_data(
            Namespace="AWS/SQS",
            MetricData=[
                {
                    "MetricName": "ApproximateNumberOfMessagesVisible",
                    "Dimensions": [{"Name": "QueueName", "Value": depth.queue_name}],
                    "Timestamp": now,
                    "Value": depth.visible,
                    "Unit": "Count",
                }
            ],
        )
    return depths


def alarm_states(client: ClientFactory, stack_name: str) -> list[AlarmState]:
    """The stack's metric and composite alarms (named `<stack>-...`) with their states."""
    cloudwatch = client("cloudwatch")
    found: list[AlarmState] = []
    for page in cloudwatch.get_paginator("describe_alarms").paginate(
        AlarmNamePrefix=f"{stack_name}-", AlarmTypes=["MetricAlarm", "CompositeAlarm"]
    ):
        for alarm in page.get("MetricAlarms", []):
            metric = f"{alarm.get('Namespace', '')}/{alarm.get('MetricName', '')}"
            found.append(
                AlarmState(
                    alarm["AlarmName"],
                    alarm["StateValue"],
                    "metric",
                    metric,
                    alarm.get("StateReason", ""),
                )
            )
        for alarm in page.get("CompositeAlarms", []):
            found.append(
                AlarmState(
                    alarm["AlarmName"],
                    alarm["StateValue"],
                    "composite",
                    alarm.get("AlarmRule", ""),
                    alarm.get("StateReason", ""),
                )
            )
    return sorted(found, key=lambda a: a.name)


def render(states: list[AlarmState], depths: list[QueueDepth] | None = None) -> str:
    """A table of alarms, ALARM first, then the queue depths that were published."""
    order = {"ALARM": 0, "INSUFFICIENT_DATA": 1, "OK": 2}
    rows = sorted(states, key=lambda a: (order.get(a.state, 3), a.name))
    width = max((len(a.name) for a in rows), default=10)
    lines = [f"{'alarm':<{width}}  {'state':<17}  metric"]
    lines += [f"{a.name:<{width}}  {a.state:<17}  {a.metric}" for a in rows]
    counts = {state: sum(1 for a in rows if a.state == state) for state in order}
    lines.append(
        f"{len(rows)} alarms: "
        + ", ".join(f"{count} {state}" for state, count in counts.items() if count)
    )
    if depths is not None:
        lines.append(
            "published AWS/SQS ApproximateNumberOfMessagesVisible (MiniStack's SQS publishes "
            "none): " + ", ".join(f"{d.queue_name}={d.visible}" for d in depths)
        )
    return "\n".join(lines)


def command(client: ClientFactory, stack_name: str, *, publish: bool = True) -> int:
    """What `python -m local.runtime alarms` prints; exit status 0."""
    depths = publish_queue_depths(client, stack_name) if publish else None
    print(render(alarm_states(client, stack_name), depths))
    return 0
