"""Every dead-letter queue, function and state machine in template.yaml has its alarms; each
alarm names a runbook that exists and notifies the one alarm topic."""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness import ROOT, template

RUNBOOK = re.compile(r"docs/runbooks/[a-z0-9-]+\.md")
FUNCTION_TYPES = {"AWS::Serverless::Function", "AWS::Lambda::Function"}
STATE_MACHINE_TYPES = {"AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"}
ALARM_TYPES = {"AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"}


@pytest.fixture(scope="module")
def decoded() -> dict[str, Any]:
    return template()


@pytest.fixture(scope="module")
def resources(decoded: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = decoded["Resources"]
    return found


def of_type(resources: dict[str, Any], types: set[str]) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] in types}


def referenced(value: Any) -> str | None:
    """The logical id a Ref or Fn::GetAtt names (None for a literal)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return None


def watched_metrics(alarm: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric name, {dimension: value}) of each metric an alarm reads."""
    props = alarm["Properties"]
    if "MetricName" in props:
        dims = {d["Name"]: d["Value"] for d in props.get("Dimensions", [])}
        yield props["Namespace"], props["MetricName"], dims
    for query in props.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            yield metric["Namespace"], metric["MetricName"], dims


def alarmed(resources: dict[str, Any], namespace: str, metric: str, dimension: str) -> set[str]:
    """Logical ids that some alarm watches through `metric` with `dimension` naming them."""
    found = set()
    for alarm in of_type(resources, {"AWS::CloudWatch::Alarm"}).values():
        for ns, name, dims in watched_metrics(alarm):
            if ns == namespace and name == metric and dimension in dims:
                target = referenced(dims[dimension])
                if target:
                    found.add(target)
    return found


def dead_letter_queues(resources: dict[str, Any]) -> set[str]:
    """Queues named as DLQs, or that any redrive policy or DeadLetterConfig points at."""
    queues = of_type(resources, {"AWS::SQS::Queue"})
    named = {name for name in queues if re.search(r"dead.?letter|dlq", name, re.IGNORECASE)}
    targets: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in {"deadLetterTargetArn", "DeadLetterConfig", "DestinationConfig"}:
                    targets.update(t for t in _refs(value) if t in queues)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(resources)
    return named | targets


def _refs(node: Any) -> Iterator[str]:
    target = referenced(node)
    if target:
        yield target
    elif isinstance(node, dict):
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_the_template_has_dead_letter_queues_functions_and_a_state_machine(
    resources: dict[str, Any],
) -> None:
    # Guards the tests below against passing on an empty set.
    assert len(dead_letter_queues(resources)) >= 4
    assert len(of_type(resources, FUNCTION_TYPES)) >= 10
    assert of_type(resources, STATE_MACHINE_TYPES)


def test_every_dead_letter_queue_alarms_on_visible_messages(resources: dict[str, Any]) -> None:
    watched = alarmed(resources, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName")
    missing = sorted(dead_letter_queues(resources) - watched)
    assert not missing, f"dead-letter queues without an alarm: {missing}"


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_alarms_on_errors_and_throttles(
    resources: dict[str, Any], metric: str
) -> None:
    watched = alarmed(resources, "AWS/Lambda", metric, "FunctionName")
    missing = sorted(set(of_type(resources, FUNCTION_TYPES)) - watched)
    assert not missing, f"functions without a {metric} alarm: {missing}"


@pytest.mark.parametrize("metric", ["ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"])
def test_every_state_machine_alarms_on_failed_timed_out_and_aborted_executions(
    resources: dict[str, Any], metric: str
) -> None:
    watched = alarmed(resources, "AWS/States", metric, "StateMachineArn")
    missing = sorted(set(of_type(resources, STATE_MACHINE_TYPES)) - watched)
    assert not missing, f"state machines without an {metric} alarm: {missing}"


def test_the_sms_queues_alarm_on_age_with_transactional_tighter_than_bulk(
    decoded: dict[str, Any],
) -> None:
    resources = decoded["Resources"]
    watched = alarmed(resources, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName")
    assert {"SmsTransactionalQueue", "SmsBulkQueue"} <= watched
    params = decoded["Parameters"]
    transactional = params["AlarmTransactionalQueueAgeSeconds"]["Default"]
    bulk = params["AlarmBulkQueueAgeSeconds"]["Default"]
    assert int(transactional) < int(bulk)
    for env, overrides in samconfig_overrides().items():
        if "AlarmTransactionalQueueAgeSeconds" in overrides:
            tx = int(overrides["AlarmTransactionalQueueAgeSeconds"])
            assert tx < int(overrides.get("AlarmBulkQueueAgeSeconds", bulk)), env


def test_each_alarm_names_a_runbook_that_exists_and_the_index_lists_it(
    resources: dict[str, Any],
) -> None:
    index = (ROOT / "docs" / "runbooks" / "README.md").read_text()
    alarms = of_type(resources, ALARM_TYPES)
    assert len(alarms) >= 30
    for name, alarm in alarms.items():
        description = alarm["Properties"]["AlarmDescription"]
        runbooks = RUNBOOK.findall(description)
        assert len(runbooks) == 1, f"{name}: description names no runbook: {description!r}"
        assert (ROOT / runbooks[0]).is_file(), f"{name}: {runbooks[0]} does not exist"
        slug = alarm_slug(alarm)
        assert f"`{slug}`" in index, f"{name}: docs/runbooks/README.md does not list {slug}"
        assert runbooks[0].removeprefix("docs/runbooks/") in index, name


def test_each_alarm_notifies_the_alarm_topic(resources: dict[str, Any]) -> None:
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    assert resources["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
    for name, alarm in of_type(resources, ALARM_TYPES).items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert props["OKActions"] == [{"Ref": "AlarmTopic"}], name
        assert props.get("ActionsEnabled", True) is True, name


def test_the_alarm_key_lets_cloudwatch_publish_to_the_encrypted_topic(
    resources: dict[str, Any],
) -> None:
    statements = resources["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [
        s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert len(cloudwatch) == 1
    assert set(cloudwatch[0]["Action"]) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    topic_policy = resources["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allow = [s for s in topic_policy if s["Effect"] == "Allow"]
    assert allow[0]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert allow[0]["Action"] == "sns:Publish"


def test_counts_absent_when_idle_are_not_breaching(resources: dict[str, Any]) -> None:
    for name, alarm in of_type(resources, {"AWS::CloudWatch::Alarm"}).items():
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching", name


def test_what_the_local_emulator_lacks_is_behind_a_condition_the_local_env_turns_off(
    resources: dict[str, Any],
) -> None:
    # MiniStack's CloudFormation refuses metric math in AWS::CloudWatch::Alarm and does not
    # know AWS::CloudWatch::CompositeAlarm (docs/runbooks/README.md, "Locally").
    for name, alarm in of_type(resources, ALARM_TYPES).items():
        if alarm["Type"].endswith("CompositeAlarm") or "Metrics" in alarm["Properties"]:
            assert alarm.get("Condition") == "CreateMathAlarms", name
    assert samconfig_overrides()["local"]["CreateMathAndCompositeAlarms"] == "false"


def test_only_throttle_alarms_outside_the_sms_path_are_optional_and_dev_leaves_them_out(
    resources: dict[str, Any],
) -> None:
    # Given the alarms behind the CreateOtherThrottleAlarms switch
    optional = {
        name
        for name, alarm in of_type(resources, {"AWS::CloudWatch::Alarm"}).items()
        if str(alarm.get("Condition", "")).startswith("OtherThrottleAlarms")
    }
    # Then each watches a function's Throttles, none on the SMS path
    assert len(optional) >= 10
    for name in optional:
        assert resources[name]["Properties"]["MetricName"] == "Throttles", name
        # The stats counter reads the SMS table's stream; it sends nothing (its lag pages
        # through its IteratorAge alarm, which stays).
        assert not name.startswith("Sms") or name.startswith("SmsStatsCounter"), name
    assert {"SmsTransactionalSenderThrottlesAlarm", "SmsBulkSenderThrottlesAlarm"}.isdisjoint(
        optional
    )
    # And only dev (no AlarmEmail) turns them off
    overrides = samconfig_overrides()
    assert overrides["dev"]["CreateOtherThrottleAlarms"] == "false"
    assert "AlarmEmail" not in overrides["dev"]
    assert overrides["prod"].get("CreateOtherThrottleAlarms", "true") == "true"


def test_the_composite_alarm_combines_existing_sms_alarms(resources: dict[str, Any]) -> None:
    rule = resources["SmsDegradedAlarm"]["Properties"]["AlarmRule"]["Fn::Sub"]
    children = re.findall(r'ALARM\("\$\{(\w+)\}"\)', rule)
    assert len(children) >= 6
    for child in children:
        assert resources[child]["Type"] == "AWS::CloudWatch::Alarm", child
        assert resources[child].get("Condition") in (None, "CreateMathAlarms"), child
    assert {"SmsTransactionalDlqAlarm", "SmsFailureRateAlarm", "SmsDeliveryRateAlarm"} <= set(
        children
    )


def test_the_cloudfront_alarm_exists_only_where_cloudfront_publishes_metrics(
    decoded: dict[str, Any],
) -> None:
    alarm = decoded["Resources"]["CloudFront5xxRateAlarm"]
    assert alarm["Condition"] == "IsUsEast1"
    assert decoded["Conditions"]["IsUsEast1"] == {
        "Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]
    }


def test_courier_metrics_the_alarms_read_are_emitted_by_the_code(
    resources: dict[str, Any],
) -> None:
    source = courier_source()
    names = {
        name
        for alarm in of_type(resources, {"AWS::CloudWatch::Alarm"}).values()
        for ns, name, dims in watched_metrics(alarm)
        if ns == "Courier"
    }
    assert {"SmsSent", "SmsFailed", "SmsDelivered", "SmsUndelivered"} <= names
    for name in names:
        assert f'"{name}"' in source, f"no code emits the Courier metric {name}"


def test_every_threshold_is_a_parameter_with_a_default(decoded: dict[str, Any]) -> None:
    params = decoded["Parameters"]
    for name, alarm in of_type(decoded["Resources"], {"AWS::CloudWatch::Alarm"}).items():
        threshold = alarm["Properties"]["Threshold"]
        if isinstance(threshold, dict):
            assert params[threshold["Ref"]]["Type"] == "Number", name
            assert "Default" in params[threshold["Ref"]], name
    for env, overrides in samconfig_overrides().items():
        unknown = {key for key in overrides if key.startswith("Alarm")} - set(params)
        assert not unknown, f"samconfig {env} sets unknown parameters {unknown}"


# ---- shared with test_template_dashboard.py


def alarm_slug(alarm: dict[str, Any]) -> str:
    """The alarm's name without the stack prefix (what docs/runbooks/README.md lists)."""
    name = alarm["Properties"]["AlarmName"]["Fn::Sub"]
    assert name.startswith("${AWS::StackName}-"), name
    return str(name.removeprefix("${AWS::StackName}-"))


def samconfig_overrides() -> dict[str, dict[str, str]]:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    found = {}
    for env, sections in config.items():
        if not isinstance(sections, dict) or "deploy" not in sections:
            continue
        text = sections["deploy"]["parameters"].get("parameter_overrides", "")
        found[env] = dict(item.split("=", 1) for item in shlex.split(text))
    return found


def courier_source() -> str:
    """The courier package's and the handlers' source (functions/: a handler may emit a count
    of its own), with each chat count also under its metric name."""
    package = ROOT / "layers" / "courier" / "src" / "courier"
    paths = sorted(package.rglob("*.py")) + sorted((ROOT / "functions").rglob("*.py"))
    text = "\n".join(path.read_text() for path in paths)
    chat_counts = re.findall(r'_count\("(\w+)"', text)
    return text + "\n" + "\n".join(f'"Chat{name}"' for name in chat_counts)
