"""The IAM check itself (tests/iam_check): a call its role lacks fails, a granted one passes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.iam_check.check import unexercised, violations
from tests.iam_check.policy import Resolver, Statement, decide, function_roles, role_statements
from tests.iam_check.recorder import Call, iam_targets

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
