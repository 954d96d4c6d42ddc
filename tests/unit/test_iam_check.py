"""The IAM check itself (tests/iam_check): a call its role lacks fails, a granted one passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local.redis_server import free_port
from tests.iam_check.check import unexercised, violations
from tests.iam_check.lambda_recording import collect, ministack_env
from tests.iam_check.policy import (
    Resolver,
    Statement,
    decide,
    function_roles,
    managed_policy,
    role_statements,
)
from tests.iam_check.recorder import Call, iam_targets
from tests.iam_check.service_calls import service_calls

TABLE = "arn:aws:dynamodb:ap-northeast-2:123456789012:table/SmsMessages"
PUT = Call("SmsStatusFunction", "dynamodb", "PutItem", "dynamodb:PutItem", TABLE)


def test_a_call_the_role_does_not_grant_fails_and_passes_once_granted() -> None:
    granted = [Statement("Allow", ("dynamodb:PutItem",), (TABLE,))]
    without = [Statement("Allow", ("dynamodb:GetItem",), (TABLE,))]
    assert violations([PUT], {"SmsStatusFunction": granted}, "sandbox") == []
    assert violations([PUT], {"SmsStatusFunction": without}, "sandbox") == [
        f"SmsStatusFunction: dynamodb.PutItem needs dynamodb:PutItem on {TABLE} (implicit-deny)"
    ]


def test_an_explicit_deny_wins_over_an_allow() -> None:
    statements = [
        Statement("Allow", ("dynamodb:*",), ("*",)),
        Statement("Deny", ("dynamodb:PutItem",), ("arn:aws:dynamodb:*:*:table/Sms*",)),
    ]
    assert decide(statements, "dynamodb:PutItem", TABLE) == "deny"
    assert decide(statements, "dynamodb:GetItem", TABLE) == "allow"


def test_a_table_grant_does_not_cover_its_indexes() -> None:
    statements = [Statement("Allow", ("dynamodb:Query",), (TABLE,))]
    assert decide(statements, "dynamodb:Query", TABLE) == "allow"
    assert decide(statements, "dynamodb:Query", f"{TABLE}/index/by_day_shard") == "implicit-deny"


def test_removing_a_permission_from_the_real_role_fails_the_check() -> None:
    # The deliberately removed permission: SmsStatusFunction's UpdateStatus statement without
    # dynamodb:UpdateItem, as the SAM translator expands template.yaml.
    roles = function_roles({"SmsProvider": "end-user-messaging"})
    update = Call("SmsStatusFunction", "dynamodb", "UpdateItem", "dynamodb:UpdateItem", TABLE)
    assert violations([update], roles, "end-user-messaging") == []
    trimmed = [
        Statement(s.effect, tuple(a for a in s.actions if a != "dynamodb:UpdateItem"), s.resources)
        for s in roles["SmsStatusFunction"]
    ]
    assert violations([update], {**roles, "SmsStatusFunction": trimmed}, "end-user-messaging")


def test_unexercised_grants_are_listed() -> None:
    statements = [Statement("Allow", ("dynamodb:PutItem", "dynamodb:GetItem"), (TABLE,), "Rw")]
    [grant] = unexercised([PUT], {"SmsStatusFunction": statements})
    assert (grant.sid, grant.action, grant.resource) == ("Rw", "dynamodb:GetItem", TABLE)


def test_provider_calls_are_checked_only_under_their_provider() -> None:
    sms = Call("SmsTransactionalSenderFunction", "sns", "Publish", "sns:Publish", "*")
    assert violations([sms], {"SmsTransactionalSenderFunction": []}, "end-user-messaging") == []
    assert violations([sms], {"SmsTransactionalSenderFunction": []}, "sns")


@pytest.mark.parametrize(
    ("service", "operation", "params", "url", "expected"),
    [
        (
            "dynamodb",
            "Query",
            {"TableName": "SmsMessages", "IndexName": "by_day_shard"},
            "",
            [("dynamodb:Query", f"{TABLE}/index/by_day_shard")],
        ),
        (
            "sqs",
            "SendMessageBatch",
            {"QueueUrl": "https://sqs.ap-northeast-2.amazonaws.com/123456789012/q"},
            "",
            [("sqs:SendMessage", "arn:aws:sqs:ap-northeast-2:123456789012:q")],
        ),
        (
            "sqs",
            "StartMessageMoveTask",
            {
                "SourceArn": "arn:aws:sqs:ap-northeast-2:123456789012:q-dlq",
                "DestinationArn": "arn:aws:sqs:ap-northeast-2:123456789012:q",
            },
            "",
            [
                ("sqs:StartMessageMoveTask", "arn:aws:sqs:ap-northeast-2:123456789012:q-dlq"),
                ("sqs:ReceiveMessage", "arn:aws:sqs:ap-northeast-2:123456789012:q-dlq"),
                ("sqs:DeleteMessage", "arn:aws:sqs:ap-northeast-2:123456789012:q-dlq"),
                ("sqs:GetQueueAttributes", "arn:aws:sqs:ap-northeast-2:123456789012:q-dlq"),
                ("sqs:SendMessage", "arn:aws:sqs:ap-northeast-2:123456789012:q"),
            ],
        ),
        (
            "s3",
            "ListObjectsV2",
            {"Bucket": "b", "Prefix": "partials/"},
            "",
            [("s3:ListBucket", "arn:aws:s3:::b")],
        ),
        (
            "apigatewaymanagementapi",
            "PostToConnection",
            {"ConnectionId": "abc="},
            "https://a1b2c3d4e5.execute-api.ap-northeast-2.amazonaws.com/live/@connections/abc%3D",
            [
                (
                    "execute-api:ManageConnections",
                    "arn:aws:execute-api:ap-northeast-2:123456789012:a1b2c3d4e5/live/POST/@connections/abc=",
                )
            ],
        ),
    ],
)
def test_calls_map_to_their_action_and_resource(
    service: str, operation: str, params: dict[str, Any], url: str, expected: Any
) -> None:
    assert iam_targets(service, operation, params, url) == expected


def test_intrinsics_resolve_with_conditions_from_the_parameters() -> None:
    template: dict[str, Any] = {
        "Parameters": {"SmsProvider": {"Default": "end-user-messaging"}},
        "Conditions": {"IsSns": {"Fn::Equals": [{"Ref": "SmsProvider"}, "sns"]}},
        "Resources": {
            "SmsMessagesTable": {"Type": "AWS::DynamoDB::Table"},
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {
                            "Fn::If": [
                                "IsSns",
                                {
                                    "PolicyName": "p",
                                    "PolicyDocument": {
                                        "Statement": [
                                            {
                                                "Effect": "Allow",
                                                "Action": "dynamodb:GetItem",
                                                "Resource": {
                                                    "Fn::Sub": "${SmsMessagesTable.Arn}/index/*"
                                                },
                                            }
                                        ]
                                    },
                                },
                                {"Ref": "AWS::NoValue"},
                            ]
                        }
                    ]
                },
            },
        },
    }
    assert role_statements(template, Resolver(template, {}), "Role") == []
    [statement] = role_statements(template, Resolver(template, {"SmsProvider": "sns"}), "Role")
    assert statement.resources == (f"{TABLE}/index/*",)


# ---- what the Lambda service does with the roles (service_calls.py)

EXTERNAL_REDIS = {"ExternalRedisUrl": "redis://127.0.0.1:6379/0"}
EVENTS_QUEUE = "arn:aws:sqs:ap-northeast-2:123456789012:courier-sms-events"
BULK_QUEUE = "arn:aws:sqs:ap-northeast-2:123456789012:courier-sms-bulk"


def test_lambdas_own_calls_are_allowed_and_checked() -> None:
    # Given the roles and Lambda's own calls (logs, traces, ENIs, the SQS poller) per network mode
    for parameters in ({}, EXTERNAL_REDIS):
        roles = function_roles(parameters)
        calls = service_calls(parameters)
        # Then every one of them is allowed
        assert violations(calls, roles, "end-user-messaging") == []
        # And each SQS consumer's poller is among them
        pollers = {c.function for c in calls if c.action == "sqs:ReceiveMessage"}
        assert pollers == {
            "SmsTransactionalSenderFunction",
            "SmsBulkSenderFunction",
            "SmsStatusFunction",
            "CampaignLauncherFunction",
        }


def test_a_role_without_its_poll_statement_fails_the_check() -> None:
    # Given the status function's role without PollQueue (the deliberately removed permission)
    roles = function_roles({})
    trimmed = [s for s in roles["SmsStatusFunction"] if s.sid != "PollQueue"]
    # Then the poller's three calls are not allowed
    found = violations(service_calls({}), {**roles, "SmsStatusFunction": trimmed}, "sandbox")
    assert found == [
        f"SmsStatusFunction: sqs.{op} needs sqs:{op} on {EVENTS_QUEUE} (implicit-deny)"
        for op in ("DeleteMessage", "GetQueueAttributes", "ReceiveMessage")
    ]


def test_no_role_may_receive_from_a_queue_other_than_its_own() -> None:
    # AWSLambdaSQSQueueExecutionRole (what SAM's SQS event attaches) allowed it on every queue.
    roles = function_roles({})
    for function, statements in roles.items():
        mine = BULK_QUEUE if function == "SmsBulkSenderFunction" else EVENTS_QUEUE
        other = EVENTS_QUEUE if mine == BULK_QUEUE else BULK_QUEUE
        assert decide(statements, "sqs:ReceiveMessage", other) != "allow", function
        assert decide(statements, "sqs:DeleteMessage", other) != "allow", function


def test_functions_outside_the_vpc_cannot_manage_network_interfaces() -> None:
    in_vpc = function_roles({})
    outside = function_roles(EXTERNAL_REDIS)
    for function in ("SmsTransactionalSenderFunction", "ChatChannelFunction", "ApiFunction"):
        assert decide(in_vpc[function], "ec2:CreateNetworkInterface", "*") == "allow"
        assert decide(outside[function], "ec2:CreateNetworkInterface", "*") == "deny"
    # Functions never in the VPC never had the managed policy
    assert decide(in_vpc["SmsStatusFunction"], "ec2:CreateNetworkInterface", "*") != "allow"


def test_an_unknown_managed_policy_is_an_error_not_a_silent_pass() -> None:
    with pytest.raises(ValueError, match="MANAGED_POLICIES"):
        managed_policy("arn:aws:iam::aws:policy/AdministratorAccess")


# ---- the local runtime's calls (lambda_recording.py, lambda_site/sitecustomize.py)

LOCAL_RESOURCES = [
    {
        "LogicalResourceId": "ChatChannelFunction",
        "PhysicalResourceId": "courier-local-ChatChannelFunction-AB12",
        "ResourceType": "AWS::Lambda::Function",
    },
    {
        "LogicalResourceId": "ChatApi",
        "PhysicalResourceId": "xyz987",
        "ResourceType": "AWS::ApiGatewayV2::Api",
    },
    {
        "LogicalResourceId": "ChatMessagesTable",
        "PhysicalResourceId": "courier-local-ChatMessagesTable-QQ",
        "ResourceType": "AWS::DynamoDB::Table",
    },
    {
        "LogicalResourceId": "SmsMessagesTable",
        "PhysicalResourceId": "courier-local-SmsMessagesTable-RR",
        "ResourceType": "AWS::DynamoDB::Table",
    },
]


def _record(directory: Path, *entries: dict[str, Any]) -> None:
    (directory / "4242.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))


def test_local_calls_are_renamed_to_the_names_the_roles_resolve_to(tmp_path: Path) -> None:
    # Given what a function worker recorded inside the local runtime, with the stack's names
    _record(
        tmp_path,
        {
            "function": "courier-local-ChatChannelFunction-AB12",
            "service": "apigatewaymanagementapi",
            "operation": "PostToConnection",
            "params": {"ConnectionId": "c1"},
            "url": "http://127.0.0.1:4567/_aws/execute-api/xyz987/live/@connections/c1",
        },
        {
            "function": "courier-local-ChatChannelFunction-AB12",
            "service": "dynamodb",
            "operation": "PutItem",
            "params": {"TableName": "courier-local-ChatMessagesTable-QQ"},
            "url": "",
        },
    )
    # When they are collected
    calls, errors = collect(tmp_path, LOCAL_RESOURCES)
    # Then they name the function by logical id and resources as the integration suite does
    assert errors == []
    assert [(c.function, c.action, c.resource) for c in calls] == [
        (
            "ChatChannelFunction",
            "execute-api:ManageConnections",
            "arn:aws:execute-api:ap-northeast-2:123456789012:a1b2c3d4e5/live/POST/@connections/c1",
        ),
        (
            "ChatChannelFunction",
            "dynamodb:PutItem",
            "arn:aws:dynamodb:ap-northeast-2:123456789012:table/ChatMessages",
        ),
    ]
    assert violations(calls, function_roles({}), "sandbox") == []


def test_a_local_call_outside_the_role_is_a_violation(tmp_path: Path) -> None:
    _record(
        tmp_path,
        {
            "function": "courier-local-ChatChannelFunction-AB12",
            "service": "dynamodb",
            "operation": "PutItem",
            "params": {"TableName": "courier-local-SmsMessagesTable-RR"},
            "url": "",
        },
    )
    calls, _ = collect(tmp_path, LOCAL_RESOURCES)
    assert violations(calls, function_roles({}), "sandbox") == [
        "ChatChannelFunction: dynamodb.PutItem needs dynamodb:PutItem on "
        "arn:aws:dynamodb:ap-northeast-2:123456789012:table/SmsMessages (implicit-deny)"
    ]


def test_a_worker_of_an_unknown_function_is_reported(tmp_path: Path) -> None:
    _record(
        tmp_path,
        {
            "function": "elsewhere",
            "service": "s3",
            "operation": "GetObject",
            "params": {},
            "url": "",
        },
    )
    assert collect(tmp_path, LOCAL_RESOURCES) == (
        [],
        ["elsewhere: not a function of the local stack"],
    )


def test_the_worker_hook_records_calls_made_in_a_fresh_interpreter(tmp_path: Path) -> None:
    # Given a Python process started as MiniStack starts a function worker
    # (the endpoint is a closed local port: the hook runs before the request is sent; botocore's
    # Stubber cannot stand in, it answers before every other before-call handler)
    script = (
        "import boto3, botocore.config, botocore.exceptions\n"
        "client = boto3.client('dynamodb', region_name='ap-northeast-2',"
        f" endpoint_url='http://127.0.0.1:{free_port()}',"
        " aws_access_key_id='x', aws_secret_access_key='x',"
        " config=botocore.config.Config(retries={'total_max_attempts': 1}))\n"
        "try:\n"
        "    client.get_item(TableName='T', Key={'pk': {'S': '1'}})\n"
        "except botocore.exceptions.EndpointConnectionError:\n"
        "    pass\n"
    )
    env = {**os.environ, **ministack_env(tmp_path), "AWS_LAMBDA_FUNCTION_NAME": "fn-1"}
    # When it makes an AWS call
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    # Then the call is in the record directory
    [line] = "".join(p.read_text() for p in tmp_path.glob("*.jsonl")).splitlines()
    entry = json.loads(line)
    assert (entry["function"], entry["service"], entry["operation"]) == (
        "fn-1",
        "dynamodb",
        "GetItem",
    )
    assert entry["params"]["TableName"] == "T"


def test_the_worker_hook_does_nothing_outside_a_function_worker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_FUNCTION_NAME"}
    env.update(ministack_env(tmp_path))
    script = "import boto3; boto3.client('s3', region_name='ap-northeast-2')"
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=60)
    assert list(tmp_path.iterdir()) == []


def test_an_xdist_workers_recording_reaches_the_controller_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    from tests.iam_check import plugin, recorder

    for name in ("_WORKER_CALLS", "_WORKER_ERRORS", "_LOCAL_CALLS", "_LOCAL_ERRORS"):
        monkeypatch.setattr(plugin, name, [])
    monkeypatch.setattr(plugin, "_state", {**plugin._state, "active": True})
    monkeypatch.setattr(recorder, "CALLS", [PUT])
    monkeypatch.setattr(recorder, "ERRORS", ["SmsStatusFunction: no IAM mapping for x.Y"])
    inside = Call("SmsBulkSenderFunction", "sqs", "DeleteMessage", "sqs:DeleteMessage", "arn:q")
    plugin._LOCAL_CALLS.append(inside)
    # Given what a worker recorded, handed over at its session end (not checked there)
    worker = SimpleNamespace(workeroutput={})
    assert plugin.is_worker(worker)  # type: ignore[arg-type]
    plugin.export(worker)  # type: ignore[arg-type]
    carried = json.loads(json.dumps(worker.workeroutput))  # builtin types only, as execnet carries
    plugin._LOCAL_CALLS.clear()
    # When the controller takes it as the worker goes down, and another worker sends nothing
    plugin.merge("gw0", carried)
    plugin.merge("gw1", None)
    # Then every call and error is there for the one check, and the silent worker is an error
    in_process, in_runtime = plugin._WORKER_CALLS, plugin._LOCAL_CALLS
    assert (in_process, in_runtime) == ([PUT], [inside])
    assert plugin._WORKER_ERRORS == [
        "SmsStatusFunction: no IAM mapping for x.Y",
        "xdist worker gw1 went down without its recording",
    ]
