"""The real daily_stats ASL executed by moto's Step Functions, Lambda calls run in-process.

moto's Docker-free Lambda backend does not run code; `dispatch_to_handlers` routes its invoke
to our handler modules, and reports exceptions the way Lambda does (FunctionError + errorType),
so the state machine's Retry and Catch see the same error names as in AWS. This relies on moto
internals (`LambdaSimpleBackend.invoke`): moto is pinned in pyproject.toml for that reason.
"""

from __future__ import annotations

import io
import json
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

import aggregate
import plan
import publish
from tests.harness import (
    ACCOUNT,
    REGION,
    ROOT,
    FakeLambdaContext,
    template_resources,
)
from tests.integration.stats_day import BUCKET, DAY, NOW, Stack, seed_chat, seed_sms

HANDLERS: dict[str, Callable[[Any, Any], Any]] = {
    "StatsPlan": plan.handler,
    "StatsAggregate": aggregate.handler,
    "StatsPublish": publish.handler,
}
SFN_CONFIG: Any = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}


class Deployment:
    """The stats part of the stack in moto, with a queue subscribed to the notification topic."""

    def __init__(self) -> None:
        self.sfn = boto3.client("stepfunctions", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.invocations: list[tuple[str, dict[str, Any]]] = []
        self.faults: dict[str, list[Exception]] = {}
        self.machine_arn = ""
        self.inbox = ""

    def run(self, execution_input: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        arn = self.sfn.start_execution(
            stateMachineArn=self.machine_arn,
            name=f"run-{uuid.uuid4().hex}",
            input=json.dumps(execution_input),
        )["executionArn"]
        deadline = time.monotonic() + timeout
        while True:
            execution: dict[str, Any] = self.sfn.describe_execution(executionArn=arn)
            if execution["status"] != "RUNNING":
                return execution
            assert time.monotonic() < deadline, "the execution did not finish"
            time.sleep(0.1)

    def notifications(self) -> list[str]:
        """The texts published to the notification topic (raw delivery to a queue)."""
        messages = self.sqs.receive_message(QueueUrl=self.inbox, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        return [m["Body"] for m in messages]

    def reports(self) -> dict[str, bytes]:
        keys = [
            o["Key"]
            for o in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"reports/{DAY}/")["Contents"]
        ]
        return {k: self.s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys}


def dispatch_to_handlers(deployment: Deployment) -> Callable[..., bytes]:
    def invoke(
        self: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes:
        name = function_name.rsplit(":", 1)[-1]
        event = json.loads(body or b"{}")
        deployment.invocations.append((name, event))
        try:
            if deployment.faults.get(name):
                raise deployment.faults[name].pop(0)
            result = HANDLERS[name](event, FakeLambdaContext(function_name=name))
        except Exception as error:  # as Lambda reports an unhandled exception
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(
                {"errorType": type(error).__name__, "errorMessage": str(error)}
            ).encode()
        return json.dumps(result).encode()

    return invoke


@pytest.fixture
def deployment(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    # `stack` (from test_stats_steps) has the tables, the bucket, the settings and a fixed clock
    # inside its own mock_aws; the Step Functions/Lambda config is added on top.
    with mock_aws(config=SFN_CONFIG):
        deployment = Deployment()
        monkeypatch.setattr(LambdaSimpleBackend, "invoke", dispatch_to_handlers(deployment))
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(
            RoleName="stats", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17"})
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context): ...\n")
        lambdas = boto3.client("lambda", region_name=REGION)
        arns = {
            name: lambdas.create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role,
                Handler="handler.handler",
                Code={"ZipFile": code.getvalue()},
            )["FunctionArn"]
            for name in HANDLERS
        }
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="stats")["TopicArn"]
        deployment.inbox = deployment.sqs.create_queue(QueueName="stats-inbox")["QueueUrl"]
        boto3.client("sns", region_name=REGION).subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:stats-inbox",
            Attributes={"RawMessageDelivery": "true"},
        )
        values = {
            "StatsPlanFunctionArn": arns["StatsPlan"],
            "StatsAggregateFunctionArn": arns["StatsAggregate"],
            "StatsPublishFunctionArn": arns["StatsPublish"],
            "StatsNotificationTopicArn": topic,
            "MapMaxConcurrency": "3",
        }
        # Fill exactly the substitutions the template declares (a missing one fails here).
        declared = template_resources()["DailyStatsStateMachine"]["Properties"][
            "DefinitionSubstitutions"
        ]
        definition = (ROOT / "statemachines/daily_stats.asl.json").read_text()
        for key in declared:
            definition = definition.replace("${" + key + "}", values[key])
        assert "${" not in definition
        deployment.machine_arn = deployment.sfn.create_state_machine(
            name="daily-stats", definition=definition, roleArn=role, type="STANDARD"
        )["stateMachineArn"]
        yield deployment


def test_a_seeded_day_runs_to_the_expected_item_reports_and_notification(
    deployment: Deployment, stack: Stack
) -> None:
    # Given a day of SMS and chat records (with noise on the neighbouring days)
    seed_sms()
    seed_chat()

    # When the state machine runs for that day
    execution = deployment.run({"date": DAY})

    # Then it succeeded through plan, one aggregate per shard, publish and the notification
    assert execution["status"] == "SUCCEEDED", execution
    names = [name for name, _ in deployment.invocations]
    assert names[0] == "StatsPlan"
    assert names[-1] == "StatsPublish"
    assert deployment.invocations[0] == ("StatsPlan", {"date": DAY})
    aggregated = sorted(
        (event["source"], event["shard"])
        for name, event in deployment.invocations
        if name == "StatsAggregate"
    )
    assert aggregated == [("chat", n) for n in range(3)] + [("sms", n) for n in range(4)]
    output = json.loads(execution["output"])
    item = stack.item()
    assert output["summary"] == item["summary"]
    assert item["sms"]["jobs"] == 27
    assert item["chat"]["active_users"] == 6
    (note,) = deployment.notifications()
    assert DAY in note
    assert output["report_json"] in note


def test_a_transient_shard_failure_is_retried_and_the_run_succeeds(
    deployment: Deployment, stack: Stack
) -> None:
    # Given data, and one aggregate attempt that meets storage throttling
    from courier.stats.errors import TransientStatsError

    seed_sms()
    seed_chat()
    deployment.faults["StatsAggregate"] = [TransientStatsError("throttled")]

    # When the day runs
    execution = deployment.run({"date": DAY})

    # Then that shard was tried again and the run succeeded with the full numbers
    assert execution["status"] == "SUCCEEDED", execution
    assert stack.item()["sms"]["jobs"] == 27


def test_a_permanent_failure_ends_in_the_failure_notification(deployment: Deployment) -> None:
    # When the run is asked for a future day
    execution = deployment.run({"date": "2099-01-01"})

    # Then the plan step fails once (no retries), the failure is notified, the run failed
    assert execution["status"] == "FAILED"
    assert [name for name, _ in deployment.invocations] == ["StatsPlan"]
    (note,) = deployment.notifications()
    assert "InvalidStatsInput" in note
    assert "2099-01-01" in note


def test_rerunning_a_day_gives_byte_identical_reports(deployment: Deployment) -> None:
    seed_sms()
    seed_chat()
    assert deployment.run({"date": DAY})["status"] == "SUCCEEDED"
    first = deployment.reports()
    assert deployment.run({"date": DAY})["status"] == "SUCCEEDED"
    assert deployment.reports() == first


def test_empty_input_means_yesterday_in_seoul_across_the_utc_date_boundary(
    deployment: Deployment,
) -> None:
    # Given it is 00:10 on the 25th in Seoul, still the 24th in UTC (the fixture's clock)
    assert NOW.astimezone(UTC).date().isoformat() == "2026-11-24"

    # When the scheduled start passes {}
    execution = deployment.run({})

    # Then the day planned and published is the 24th: yesterday in Seoul
    assert execution["status"] == "SUCCEEDED", execution
    assert deployment.invocations[0] == ("StatsPlan", {})
    assert json.loads(execution["output"])["date"] == "2026-11-24"
