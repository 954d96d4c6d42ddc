"""template.yaml's admin sign-in: the Cognito pool, the web client, the JWT authorizer, MFA."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.harness import template
from tests.iam_check.policy import Resolver, samconfig_parameters, translated

ADMIN_PREFIX = "/api/admin/"


@pytest.fixture(scope="module")
def decoded() -> dict[str, Any]:
    return template()


def resolved(decoded: dict[str, Any], logical_id: str, **parameters: str) -> dict[str, Any]:
    """One resource's properties with the intrinsics resolved under these parameters."""
    props: dict[str, Any] = Resolver(decoded, dict(parameters)).resolve(
        decoded["Resources"][logical_id]["Properties"]
    )
    return props


def test_only_operators_create_admins_and_passwords_are_strong(decoded: dict[str, Any]) -> None:
    pool = resolved(decoded, "AdminUserPool")

    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    policy = pool["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(
        policy[key]
        for key in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols")
    )
    # No self-service recovery by mail or SMS: another operator resets a password.
    assert [m["Name"] for m in pool["AccountRecoverySetting"]["RecoveryMechanisms"]] == [
        "admin_only"
    ]


def test_the_pool_is_kept_like_the_tables(decoded: dict[str, Any]) -> None:
    resource = decoded["Resources"]["AdminUserPool"]
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    on = resolved(decoded, "AdminUserPool", TableDeletionProtection="true")
    off = resolved(decoded, "AdminUserPool", TableDeletionProtection="false")
    assert (on["DeletionProtection"], off["DeletionProtection"]) == ("ACTIVE", "INACTIVE")


@pytest.mark.parametrize(
    ("mfa", "enabled"),
    [("OFF", None), ("OPTIONAL", ["SOFTWARE_TOKEN_MFA"]), ("ON", ["SOFTWARE_TOKEN_MFA"])],
)
def test_the_mfa_parameter_sets_the_pool_and_enables_totp(
    decoded: dict[str, Any], mfa: str, enabled: list[str] | None
) -> None:
    pool = resolved(decoded, "AdminUserPool", AdminMfa=mfa)

    assert pool["MfaConfiguration"] == mfa
    assert pool.get("EnabledMfas") == enabled


def test_production_requires_mfa_and_the_local_stack_does_not(decoded: dict[str, Any]) -> None:
    allowed = decoded["Parameters"]["AdminMfa"]["AllowedValues"]
    assert allowed == ["OFF", "OPTIONAL", "ON"]  # strings, not YAML booleans
    assert samconfig_parameters("prod")["AdminMfa"] == "ON"
    assert samconfig_parameters("local")["AdminMfa"] == "OFF"


def test_the_web_client_is_public_code_grant_only_with_short_tokens(
    decoded: dict[str, Any],
) -> None:
    client = resolved(decoded, "AdminWebClient")

    assert client["GenerateSecret"] is False  # a browser keeps no secret: PKCE instead
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["AllowedOAuthFlows"] == ["code"]  # no implicit, no client_credentials
    assert set(client["AllowedOAuthScopes"]) == {"openid", "email", "profile"}
    assert client["SupportedIdentityProviders"] == ["COGNITO"]
    # No password flows on this client: people sign in through the hosted UI only.
    assert client["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    validity = {
        "AccessToken": (client["AccessTokenValidity"], client["TokenValidityUnits"]["AccessToken"]),
        "IdToken": (client["IdTokenValidity"], client["TokenValidityUnits"]["IdToken"]),
        "RefreshToken": (
            client["RefreshTokenValidity"],
            client["TokenValidityUnits"]["RefreshToken"],
        ),
    }
    assert validity == {
        "AccessToken": (1, "hours"),
        "IdToken": (1, "hours"),
        "RefreshToken": (1, "days"),
    }
    assert client["EnableTokenRevocation"] is True
    assert client["PreventUserExistenceErrors"] == "ENABLED"


@pytest.mark.parametrize(
    ("parameters", "url"),
    [
        (
            {
                "CustomDomainName": "chat.example.com",
                "AcmCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
            },
            "https://chat.example.com/admin.html",
        ),
        (
            {"EmulatorEndpointUrl": "http://127.0.0.1:4566"},
            "http://127.0.0.1:4566/WebBucket/admin.html",
        ),
        # Without a custom domain `make deploy-web` adds the distribution's URL (a template
        # reference to it would be a cycle through the authorizer's audience).
        ({}, "https://localhost/admin.html"),
    ],
)
def test_the_callback_and_sign_out_urls_are_the_sites_admin_page(
    decoded: dict[str, Any], parameters: dict[str, str], url: str
) -> None:
    client = resolved(decoded, "AdminWebClient", **parameters)

    assert client["CallbackURLs"] == [url]
    assert client["LogoutURLs"] == [url]


def test_the_hosted_ui_prefix_fits_cognitos_rules_and_the_csp_allows_it(
    decoded: dict[str, Any],
) -> None:
    resolver = Resolver(decoded, {})
    # A real stack id's last part is a UUID (the resolver's stand-in is "0").
    uuid = "3f1c2a4e-9b7d-11ef-8c1a-0a1b2c3d4e5f"
    raw = decoded["Resources"]["AdminUserPoolDomain"]["Properties"]["Domain"]
    text, variables = raw["Fn::Sub"]
    assert variables["StackUuid"] == {
        "Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]
    }
    prefix = text.replace("${StackUuid}", uuid)

    assert len(prefix) <= 63
    assert re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", prefix)
    assert not any(word in prefix for word in ("aws", "amazon", "cognito"))
    csp = resolver.resolve(
        decoded["Resources"]["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"][
            "SecurityHeadersConfig"
        ]["ContentSecurityPolicy"]["ContentSecurityPolicy"]
    )
    domain = resolver.resolve(raw)
    connect_src = next(d for d in csp.split(";") if d.strip().startswith("connect-src"))
    assert f"https://{domain}.auth.ap-northeast-2.amazoncognito.com" in connect_src.split()


def test_the_admin_group_exists(decoded: dict[str, Any]) -> None:
    group = resolved(decoded, "AdminGroup")
    assert group["GroupName"] == "admin"
    assert group["UserPoolId"] == "AdminUserPool"


def api_events(decoded: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The HttpApi events of every function, keyed `Function.Event`."""
    return {
        f"{function}.{name}": event["Properties"]
        for function, resource in decoded["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        for name, event in resource["Properties"].get("Events", {}).items()
        if event["Type"] == "HttpApi"
    }


def test_the_jwt_authorizer_trusts_this_pool_and_the_web_client(decoded: dict[str, Any]) -> None:
    auth = decoded["Resources"]["HttpApi"]["Properties"]["Auth"]
    assert "DefaultAuthorizer" not in auth  # the other routes keep their own authorization
    jwt = auth["Authorizers"]["AdminJwt"]
    assert jwt["IdentitySource"] == "$request.header.Authorization"
    resolver = Resolver(decoded, {})
    assert resolver.resolve(jwt["JwtConfiguration"]["issuer"]) == (
        "https://AdminUserPool.ProviderName"
    )
    assert jwt["JwtConfiguration"]["audience"] == [{"Ref": "AdminWebClient"}]
    # The function checks the same issuer and client (and the admin group) itself.
    env = resolved(decoded, "AdminApiFunction")["Environment"]["Variables"]
    assert env["ADMIN_TOKEN_ISSUER"] == resolver.resolve(jwt["JwtConfiguration"]["issuer"])
    assert env["ADMIN_CLIENT_ID"] == "AdminWebClient"
    assert env["ADMIN_JWKS_URL"] == ""  # AWS: the issuer's own JWKS document
    local = resolved(decoded, "AdminApiFunction", EmulatorEndpointUrl="http://127.0.0.1:4566")
    assert local["Environment"]["Variables"]["ADMIN_JWKS_URL"] == (
        "http://127.0.0.1:4566/AdminUserPool/.well-known/jwks.json"
    )


def test_every_admin_route_and_no_other_has_the_jwt_authorizer(decoded: dict[str, Any]) -> None:
    events = api_events(decoded)
    admin = {name for name, e in events.items() if e["Path"].startswith(ADMIN_PREFIX)}
    with_jwt = {
        name for name, e in events.items() if e.get("Auth", {}).get("Authorizer") == "AdminJwt"
    }

    assert admin  # at least the catch-all
    assert with_jwt == admin


def test_the_admin_routes_run_in_their_own_function(decoded: dict[str, Any]) -> None:
    # Given every HttpApi event of the template
    events = api_events(decoded)

    # Then the admin paths belong to AdminApiFunction only, and it serves nothing else
    owners = {
        name.split(".")[0] for name, e in events.items() if e["Path"].startswith(ADMIN_PREFIX)
    }
    assert owners == {"AdminApiFunction"}
    assert all(
        e["Path"].startswith(ADMIN_PREFIX)
        for name, e in events.items()
        if name.startswith("AdminApiFunction.")
    )
    # And the public function carries none of the admin sign-in settings
    public_env = resolved(decoded, "ApiFunction")["Environment"]["Variables"]
    assert not {k for k in public_env if k.startswith("ADMIN_")}
    admin = resolved(decoded, "AdminApiFunction")
    assert admin["Handler"] == "admin_api.handler"
    assert admin["LoggingConfig"]["LogGroup"] == "AdminApiLogGroup"


def test_the_translated_api_puts_the_authorizer_on_admin_paths_only() -> None:
    # Given the template as SAM translates it (the OpenAPI body API Gateway imports)
    resources = translated("{}")["Resources"]
    body = resources["HttpApi"]["Properties"]["Body"]
    authorizers = body["components"]["securitySchemes"]
    assert authorizers["AdminJwt"]["x-amazon-apigateway-authorizer"]["type"] == "jwt"

    # Then each admin operation requires AdminJwt, and no other operation mentions it
    for path, operations in body["paths"].items():
        for method, operation in operations.items():
            schemes = {name for entry in operation.get("security", []) for name in entry}
            if path.startswith(ADMIN_PREFIX):
                assert schemes == {"AdminJwt"}, (path, method)
            else:
                assert "AdminJwt" not in schemes, (path, method)
    assert any(path.startswith(ADMIN_PREFIX) for path in body["paths"])


def test_the_outputs_say_how_to_sign_in(decoded: dict[str, Any]) -> None:
    outputs = decoded["Outputs"]
    for name in (
        "AdminUserPoolId",
        "AdminUserPoolClientId",
        "AdminTokenIssuer",
        "AdminHostedUiDomain",
        "AdminSignInUrl",
        "AdminConsoleUrl",
    ):
        assert name in outputs, name
    resolver = Resolver(decoded, {"EmulatorEndpointUrl": "http://127.0.0.1:4566"})
    assert resolver.resolve(outputs["AdminSignInUrl"]["Value"]) == "http://127.0.0.1:4566"
    hosted = Resolver(decoded, {}).resolve(outputs["AdminSignInUrl"]["Value"])
    assert hosted.startswith("https://courier-admin-")
    assert hosted.endswith(".auth.ap-northeast-2.amazoncognito.com")
