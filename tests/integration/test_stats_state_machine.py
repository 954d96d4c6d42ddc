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
from datetime import UTC, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend

import aggregate
import plan
import publish
from courier.settings import get_settings
from courier.sms.status_store import SmsStatusStore
from courier.stats import wiring as stats_wiring
from tests.harness import (
    ACCOUNT,
    REGION,
    ROOT,
    FakeLambdaContext,
    template_resource,
)
from tests.integration.stats_day import (
    BUCKET,
    DAY,
    NOW,
    Stack,
    count_stream,
    receipt,
    seed_chat,
    seed_sms,
    sent,
    utc,
)

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
        # One action to run just before a function's next invocation (inside that invocation).
        self.before: dict[str, Callable[[], None]] = {}
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
        if action := deployment.before.pop(name, None):
            action()
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
        declared = template_resource("DailyStatsStateMachine")["Properties"][
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

    # Then it succeeded through plan, one aggregate per task (the SMS day, each chat shard),
    # publish and the notification
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
    assert aggregated == [("chat", n) for n in range(3)] + [("sms", 0)]
    (output,) = json.loads(execution["output"])
    item = stack.item()
    assert output["date"] == DAY
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


def test_a_failed_day_fails_the_run_with_its_error_and_notifies(deployment: Deployment) -> None:
    # Given the publish step of the day fails for good
    from courier.stats.errors import PartialsMismatch

    deployment.faults["StatsPublish"] = [PartialsMismatch("partials do not match the plan")]

    # When the day runs
    execution = deployment.run({"date": DAY})

    # Then the day's error (not a generic Map failure) fails the run and is notified
    assert execution["status"] == "FAILED"
    assert execution["error"] == "PartialsMismatch"
    (note,) = deployment.notifications()
    assert "PartialsMismatch" in note


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

    # Then the newest day planned and published is the 24th: yesterday in Seoul
    assert execution["status"] == "SUCCEEDED", execution
    assert deployment.invocations[0] == ("StatsPlan", {})
    assert json.loads(execution["output"])[0]["date"] == "2026-11-24"


def test_partials_are_keyed_by_the_execution(deployment: Deployment) -> None:
    seed_sms()
    execution = deployment.run({"date": DAY})
    assert execution["status"] == "SUCCEEDED", execution
    name = execution["name"]
    steps = [event for step, event in deployment.invocations if step != "StatsPlan"]
    assert steps
    assert {event["run"] for event in steps} == {name}
    (publish_event,) = [event for step, event in deployment.invocations if step == "StatsPublish"]
    assert all(
        ref["partial_key"].startswith(f"partials/{DAY}/{name}/")
        for ref in publish_event["partials"]
    )


def test_overlapping_executions_of_a_day_each_publish_their_own_partials(
    deployment: Deployment, stack: Stack
) -> None:
    # Given execution A of the day has aggregated every shard
    seed_sms()
    seed_chat()
    outputs: list[dict[str, Any]] = []

    def b_runs_the_same_day_with_one_more_job() -> None:
        # Just before A publishes, a job of the day is recorded and B runs the whole day
        sent(SmsStatusStore.from_settings(get_settings()), "between-runs", utc("2026-11-24T06:00"))
        count_stream()
        outputs.append(deployment.run({"date": DAY}))

    deployment.before["StatsPublish"] = b_runs_the_same_day_with_one_more_job

    # When A then publishes
    a = deployment.run({"date": DAY})

    # Then both succeeded, each with the numbers of its own partials (A never read B's)
    (b,) = outputs
    assert b["status"] == "SUCCEEDED", b
    assert a["status"] == "SUCCEEDED", a
    assert "SMS 28 jobs" in json.loads(b["output"])[0]["summary"]
    assert "SMS 27 jobs" in json.loads(a["output"])[0]["summary"]


def test_the_schedule_recounts_the_days_late_receipts_changed(
    deployment: Deployment, stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the scheduled run on the 25th (00:10 in Seoul) counted a job of the 24th as SENT
    seed_sms()
    seed_chat()
    assert deployment.run({})["status"] == "SUCCEEDED"
    assert stack.item()["sms"]["by_status"]["SENT"] == 2

    # When its delivery receipt arrives on the 26th and the schedule runs on the 27th
    receipt(
        SmsStatusStore.from_settings(get_settings()),
        "no-receipt",
        utc("2026-11-26T01:00"),
        "DELIVERED",
    )
    count_stream()  # the counter moves the job from SENT to DELIVERED in the 24th's partials
    monkeypatch.setattr(stats_wiring, "system_clock", lambda: NOW + timedelta(days=2))
    execution = deployment.run({})

    # Then the 24th now counts the receipt: its item was overwritten, not added to
    assert execution["status"] == "SUCCEEDED", execution
    sms = stack.item()["sms"]
    assert sms["by_status"] == {"DELIVERED": 23, "FAILED": 3, "SENT": 1}
    assert sms["jobs"] == 27
    # And that run covered the 26th and the three days before it, newest first
    published = [day["date"] for day in json.loads(execution["output"])]
    assert published == ["2026-11-26", "2026-11-25", "2026-11-24", "2026-11-23"]
