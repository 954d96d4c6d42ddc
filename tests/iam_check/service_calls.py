"""The calls AWS services make with a function's role: logs, traces, network interfaces, polling.

No handler makes these, so the recorder never sees them; yet a role without them breaks the
function (no logs, no ENI in the VPC, an SQS mapping that cannot be created). They are derived
from the translated template for each parameter set and checked like recorded calls.
"""

from __future__ import annotations

from typing import Any

from tests.iam_check.policy import ACCOUNT, ENI_ACTIONS, REGION, Resolver, translated
from tests.iam_check.recorder import Call

POLL_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")
# What Lambda's poller calls on a DynamoDB stream with the function's role (ListStreams names no
# stream), and what it sends to the mapping's OnFailure queue.
STREAM_ACTIONS = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
# Lambda's tracing sends segments and telemetry; sampling is decided by Lambda itself (Active)
# or by the caller's trace header (PassThrough).
TRACE_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")


def _service_call(function: str, action: str, resource: str) -> Call:
    service, operation = action.split(":", 1)
    return Call(function, service, operation, action, resource)


def service_calls(parameters: dict[str, str]) -> list[Call]:
    """What Lambda does with each function's role under these parameters."""
    template = translated("{}")
    resolver = Resolver(template, dict(parameters))
    calls: list[Call] = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        props: dict[str, Any] = resolver.resolve(resource["Properties"])
        group = props.get("LoggingConfig", {}).get("LogGroup", f"/aws/lambda/{logical_id}")
        stream = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:*"
        calls += [
            _service_call(logical_id, a, stream)
            for a in ("logs:CreateLogStream", "logs:PutLogEvents")
        ]
        # PassThrough traces too, whenever the upstream caller sampled the request.
        if props.get("TracingConfig", {}).get("Mode") in ("Active", "PassThrough"):
            calls += [_service_call(logical_id, a, "*") for a in TRACE_ACTIONS]
        if props.get("VpcConfig"):
            calls += [_service_call(logical_id, a, "*") for a in ENI_ACTIONS]
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::Lambda::EventSourceMapping":
            continue
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        props = resolver.resolve(resource["Properties"])
        function = resource["Properties"]["FunctionName"]["Ref"]
        source = props["EventSourceArn"]
        if ":dynamodb:" in source:
            calls += [_service_call(function, a, source) for a in STREAM_ACTIONS]
            calls.append(_service_call(function, "dynamodb:ListStreams", "*"))
        else:
            calls += [_service_call(function, a, source) for a in POLL_ACTIONS]
        on_failure = props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if on_failure and ":sqs:" in on_failure:
            calls.append(_service_call(function, "sqs:SendMessage", on_failure))
    return calls
