"""The local admin sign-in: the JWT authorizer on the emulator's admin routes, and two users.

MiniStack's CloudFormation ignores the OpenAPI body SAM writes for the HTTP API, so the local
runtime creates the routes itself (`import_http_api_routes`); this adds what that body says for
`/api/admin/*`: a JWT authorizer (the pool's issuer, the web client as audience) on those
routes. MiniStack enforces it (signature against the pool's JWKS, issuer, expiry, audience);
the API function checks the token again and the admin group.

Then it creates an admin (in the `admin` group) and a signed-in non-admin in the emulator's
user pool, each with a generated password set as permanent (no first-sign-in change), for
people (`make dev` prints them) and the end-to-end tests.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from local.system import LocalSystem

ADMIN_USER: Final = "courier-admin"
NON_ADMIN_USER: Final = "courier-viewer"
ADMIN_GROUP: Final = "admin"
ADMIN_ROUTE_PREFIX: Final = "/api/admin/"
AUTHORIZER_NAME: Final = "AdminJwt"


def generated_password() -> str:
    """A password the pool's policy accepts (14+ characters, all four character classes)."""
    return f"Cr{secrets.token_urlsafe(18)}7!x"


def attach_admin_authorizer(system: LocalSystem) -> str:
    """Create the JWT authorizer and put it on every /api/admin/ route; its id."""
    apigw = system.client("apigatewayv2")
    api_id = system.outputs["HttpApiId"]
    existing = {a["Name"]: a["AuthorizerId"] for a in apigw.get_authorizers(ApiId=api_id)["Items"]}
    authorizer_id = (
        existing.get(AUTHORIZER_NAME)
        or apigw.create_authorizer(
            ApiId=api_id,
            Name=AUTHORIZER_NAME,
            AuthorizerType="JWT",
            IdentitySource=["$request.header.Authorization"],
            JwtConfiguration={
                "Issuer": system.outputs["AdminTokenIssuer"],
                "Audience": [system.outputs["AdminUserPoolClientId"]],
            },
        )["AuthorizerId"]
    )
    for route in apigw.get_routes(ApiId=api_id)["Items"]:
        _, _, path = route["RouteKey"].partition(" ")
        if path.startswith(ADMIN_ROUTE_PREFIX):
            apigw.update_route(
                ApiId=api_id,
                RouteId=route["RouteId"],
                AuthorizationType="JWT",
                AuthorizerId=authorizer_id,
            )
    return str(authorizer_id)


def create_user(system: LocalSystem, username: str, *, admin: bool) -> str:
    """A confirmed user with a generated permanent password (in the admin group if asked)."""
    cognito = system.client("cognito-idp")
    pool = system.outputs["AdminUserPoolId"]
    password = generated_password()
    cognito.admin_create_user(
        UserPoolId=pool,
        Username=username,
        TemporaryPassword=generated_password(),
        MessageAction="SUPPRESS",
    )
    cognito.admin_set_user_password(
        UserPoolId=pool, Username=username, Password=password, Permanent=True
    )
    if admin:
        cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=ADMIN_GROUP)
    return password


def set_up_admin_sign_in(system: LocalSystem) -> dict[str, str]:
    """The authorizer on the admin routes and the two users; username -> password."""
    attach_admin_authorizer(system)
    return {
        ADMIN_USER: create_user(system, ADMIN_USER, admin=True),
        NON_ADMIN_USER: create_user(system, NON_ADMIN_USER, admin=False),
    }


def summary_lines(system: LocalSystem) -> list[str]:
    """How to sign in, for the `make dev` summary."""
    outputs = system.outputs
    users = system.admin_users
    return [
        f"  admin console   {outputs.get('AdminConsoleUrl', '')}",
        f"                  sign in as {ADMIN_USER} / {users.get(ADMIN_USER, '')}",
        f"                  ({NON_ADMIN_USER} / {users.get(NON_ADMIN_USER, '')} is signed in "
        "but not an admin: 403)",
        f"                  hosted UI {outputs.get('AdminSignInUrl', '')}/oauth2/authorize, "
        f"client {outputs.get('AdminUserPoolClientId', '')}",
    ]
