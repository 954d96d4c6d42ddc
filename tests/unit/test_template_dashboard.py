"""The dashboard's body in template.yaml: valid JSON once !Sub fills it, and every widget
reads resources, log groups and metrics that exist."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.harness import template
from tests.unit.test_template_alarms import courier_source

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9:]+)(?:\.([A-Za-z0-9.]+))?\}")
PSEUDO = {"AWS::Region": "ap-northeast-2", "AWS::StackName": "courier", "AWS::AccountId": "1"}
# Which resource type a metric dimension must name.
DIMENSION_TYPES = {
    "FunctionName": {"AWS::Serverless::Function", "AWS::Lambda::Function"},
    "QueueName": {"AWS::SQS::Queue"},
    "StateMachineArn": {"AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"},
    "ApiId": {"AWS::ApiGatewayV2::Api", "AWS::Serverless::HttpApi"},
    "DistributionId": {"AWS::CloudFront::Distribution"},
}


@pytest.fixture(scope="module")
def decoded() -> dict[str, Any]:
    return template()


@pytest.fixture(scope="module")
def body_text(decoded: dict[str, Any]) -> str:
    dashboard = decoded["Resources"]["Dashboard"]
    assert dashboard["Type"] == "AWS::CloudWatch::Dashboard"
    text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert isinstance(text, str)
    return text


def substitute(text: str, decoded: dict[str, Any]) -> str:
    """What CloudFormation's !Sub does, with a marker `<Id>` / `<Id.Attr>` for each resource."""
    resources, parameters = decoded["Resources"], decoded["Parameters"]

    def value(match: re.Match[str]) -> str:
        name, attribute = match.group(1), match.group(2)
        if name in PSEUDO:
            return PSEUDO[name]
        if name in parameters:
            assert attribute is None, match.group(0)
            return str(parameters[name]["Default"])
        assert name in resources, f"the dashboard names no resource or parameter {name}"
        assert "Condition" not in resources[name], f"{name} may not exist (conditional)"
        return f"<{name}.{attribute}>" if attribute else f"<{name}>"

    assert "${!" not in text
    return PLACEHOLDER.sub(value, text)


@pytest.fixture(scope="module")
def body(body_text: str, decoded: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(substitute(body_text, decoded))
    return parsed


def metric_rows(widget: dict[str, Any]) -> Iterator[list[Any]]:
    for row in widget["properties"].get("metrics", []):
        if isinstance(row, list):
            yield row


def test_the_body_is_json_with_widgets_on_the_grid(body: dict[str, Any]) -> None:
    widgets = body["widgets"]
    assert len(widgets) >= 15
    for widget in widgets:
        assert widget["type"] in {"metric", "log", "text"}
        assert widget["x"] >= 0, widget
        assert widget["x"] + widget["width"] <= 24, widget
        assert widget["height"] > 0


def test_every_metric_dimension_names_a_resource_of_the_right_type(
    body: dict[str, Any], decoded: dict[str, Any]
) -> None:
    resources = decoded["Resources"]
    checked = 0
    for widget in body["widgets"]:
        for row in metric_rows(widget):
            names = [item for item in row[2:] if isinstance(item, str)]
            for dimension, value in zip(names[::2], names[1::2], strict=True):
                if dimension not in DIMENSION_TYPES:
                    continue
                marker = re.fullmatch(r"<(\w+)(?:\.(\w+))?>", value)
                assert marker, f"{dimension}={value} is not one of the template's resources"
                logical_id = marker.group(1)
                assert resources[logical_id]["Type"] in DIMENSION_TYPES[dimension], value
                checked += 1
    assert checked >= 30


def test_courier_metrics_on_the_dashboard_are_emitted_by_the_code(body: dict[str, Any]) -> None:
    source = courier_source()
    names = {
        row[1] for widget in body["widgets"] for row in metric_rows(widget) if row[0] == "Courier"
    }
    assert {"SmsSent", "SmsFailed", "SmsParts", "ChatDeliveries", "ChatConnectionsPruned"} <= names
    for name in names:
        assert f'"{name}"' in source, f"no code emits the Courier metric {name}"
    for widget in body["widgets"]:
        for row in metric_rows(widget):
            if row[0] == "Courier":
                assert row[2:4] == ["service", "courier"], row


def test_the_logs_insights_widget_reads_the_senders_log_groups(
    body: dict[str, Any], decoded: dict[str, Any]
) -> None:
    logs = [w for w in body["widgets"] if w["type"] == "log"]
    assert logs
    for widget in logs:
        sources = re.findall(r"SOURCE '<(\w+)>'", widget["properties"]["query"])
        assert sources
        for logical_id in sources:
            assert decoded["Resources"][logical_id]["Type"] == "AWS::Logs::LogGroup"
    query = logs[0]["properties"]["query"]
    assert 'message = "sms failed permanently"' in query
    assert "by reason" in query


def test_the_rate_limit_widget_draws_the_provider_limit(
    body: dict[str, Any], decoded: dict[str, Any]
) -> None:
    limit = decoded["Parameters"]["ProviderMessagesPerSecond"]["Default"]
    [widget] = [w for w in body["widgets"] if "Rate limit" in w["properties"].get("title", "")]
    lines = widget["properties"]["annotations"]["horizontal"]
    assert {"label": "ProviderMessagesPerSecond", "value": limit} in lines
    expressions = [r["expression"] for r in widget["properties"]["metrics"] if isinstance(r, dict)]
    assert "parts / PERIOD(parts)" in expressions
