"""template.yaml wires chat access: token age, tickets, revocations, and the origin check."""

from __future__ import annotations

from typing import Any

import pytest

from tests.harness import ROOT, template, template_resources


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return template_resources()


@pytest.fixture(scope="module")
def parameters() -> dict[str, Any]:
    return dict(template()["Parameters"])


def env(resources: dict[str, Any], function: str) -> dict[str, Any]:
    variables: dict[str, Any] = resources[function]["Properties"]["Environment"]["Variables"]
    return variables


def statements(resources: dict[str, Any], function: str) -> list[dict[str, Any]]:
    found = []
    for entry in resources[function]["Properties"].get("Policies", []):
        if isinstance(entry, dict) and "Statement" in entry:
            found.extend(entry["Statement"])
    return found


def grants_on(resources: dict[str, Any], function: str, table: str) -> set[str]:
    """The actions a function's inline statements allow on one table."""
    actions: set[str] = set()
    for statement in statements(resources, function):
        targets = statement["Resource"]
        targets = targets if isinstance(targets, list) else [targets]
        if {"Fn::GetAtt": [table, "Arn"]} in targets or {"Fn::GetAtt": f"{table}.Arn"} in targets:
            listed = statement["Action"]
            actions |= set(listed if isinstance(listed, list) else [listed])
    return actions


def test_the_maximum_token_age_is_a_parameter_every_verifier_reads(
    resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    # Given the ChatTokenMaxAgeSeconds parameter, 24 hours by default
    assert parameters["ChatTokenMaxAgeSeconds"]["Default"] == 86400
    # Then both functions that verify tokens get it
    for function in ("ChatAuthorizerFunction", "ApiFunction"):
        assert env(resources, function)["CHAT_TOKEN_MAX_AGE_SECONDS"] == {
            "Ref": "ChatTokenMaxAgeSeconds"
        }


def test_tickets_and_revocations_have_their_tables_with_ttl(resources: dict[str, Any]) -> None:
    for table, key in (("ChatTicketsTable", "ticket_hash"), ("ChatRevocationsTable", "sub")):
        props = resources[table]["Properties"]
        assert props["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
        assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    # Losing revocations would quietly re-admit revoked tokens
    assert resources["ChatRevocationsTable"]["DeletionPolicy"] == "Retain"
    for function in ("ChatAuthorizerFunction", "ApiFunction"):
        variables = env(resources, function)
        assert variables["CHAT_TICKETS_TABLE"] == {"Ref": "ChatTicketsTable"}
        assert variables["CHAT_REVOCATIONS_TABLE"] == {"Ref": "ChatRevocationsTable"}


def test_ticket_and_revocation_grants_are_exactly_what_the_code_calls(
    resources: dict[str, Any],
) -> None:
    # The authorizer consumes tickets (conditional delete) and reads revocations
    assert grants_on(resources, "ChatAuthorizerFunction", "ChatTicketsTable") == {
        "dynamodb:DeleteItem"
    }
    assert grants_on(resources, "ChatAuthorizerFunction", "ChatRevocationsTable") == {
        "dynamodb:GetItem"
    }
    # The HTTP API issues tickets and reads revocations; it never deletes or revokes
    assert grants_on(resources, "ApiFunction", "ChatTicketsTable") == {"dynamodb:PutItem"}
    assert grants_on(resources, "ApiFunction", "ChatRevocationsTable") == {"dynamodb:GetItem"}
    # The admin API revokes a user's tokens (it reads the previous revocation first)
    assert grants_on(resources, "AdminApiFunction", "ChatRevocationsTable") == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    }
    assert grants_on(resources, "AdminApiFunction", "ChatTicketsTable") == set()
    # And no other function touches either table
    others = {
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        and name not in {"ChatAuthorizerFunction", "ApiFunction", "AdminApiFunction"}
        and (
            grants_on(resources, name, "ChatTicketsTable")
            or grants_on(resources, name, "ChatRevocationsTable")
        )
    }
    assert others == set()


def test_the_connect_authorizer_takes_a_ticket_never_a_token(resources: dict[str, Any]) -> None:
    # API Gateway refuses a connect without ?ticket= before the function runs; ?token= is gone
    props = resources["ChatAuthorizer"]["Properties"]
    assert props["AuthorizerType"] == "REQUEST"
    assert props["IdentitySource"] == ["route.request.querystring.ticket"]


def test_the_http_api_fails_closed_unless_the_stack_switches_the_origin_check_off(
    resources: dict[str, Any], parameters: dict[str, Any]
) -> None:
    # Given the VerifyCloudFrontOrigin parameter ("true" unless a stack opts out)
    assert parameters["VerifyCloudFrontOrigin"]["Default"] == "true"
    # Then the API function is told whether to verify, not left to infer it from a missing secret
    assert env(resources, "ApiFunction")["VERIFY_CLOUDFRONT_ORIGIN"] == {
        "Ref": "VerifyCloudFrontOrigin"
    }
    # And only the local environment (no CloudFront in MiniStack) opts out
    config = (ROOT / "samconfig.toml").read_text()
    assert config.count("VerifyCloudFrontOrigin=false") == 1
    assert "VerifyCloudFrontOrigin=false" in config.split("[local.deploy.parameters]", 1)[1]
