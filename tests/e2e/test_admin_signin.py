"""The admin sign-in end to end: MiniStack's hosted UI (code + PKCE), its JWT authorizer, the API.

The browser signs in as the local admin on web/admin.html and sees its name; the non-admin
signs in as well and is refused (403) by the function. Over plain HTTP, the same hosted UI gives
tokens to show who refuses what: no token is stopped by the emulator's JWT authorizer (401);
an ID token passes the authorizer (its audience is the client) and is refused by the function.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from playwright.sync_api import Browser, Page, expect

from local.admin_sign_in import ADMIN_USER, NON_ADMIN_USER
from local.system import LocalSystem

# `browser`: tests/e2e/conftest.py (Debian's Chromium, one per module).


def sign_in_in_the_browser(page: Page, system: LocalSystem, username: str) -> None:
    page.goto(system.outputs["AdminConsoleUrl"])
    page.get_by_test_id("sign-in-button").click()
    # MiniStack's hosted UI sign-in form
    page.locator("#username").fill(username)
    page.locator("#password").fill(system.admin_users[username])
    page.get_by_role("button", name="Sign in").click()


def test_the_admin_signs_in_through_the_hosted_ui_and_sees_their_name(
    local_system: LocalSystem, browser: Browser
) -> None:
    page = browser.new_page()
    # Given the admin page, signed out
    # When the admin signs in on the hosted UI (code + PKCE) and comes back
    sign_in_in_the_browser(page, local_system, ADMIN_USER)

    # Then the page shows who they are, from GET /api/admin/me
    expect(page.get_by_test_id("admin-username")).to_have_text(ADMIN_USER, timeout=30_000)
    expect(page.get_by_test_id("admin-groups")).to_contain_text("admin")
    assert "code=" not in page.url  # the code is dropped from the address bar
    token = page.evaluate("sessionStorage.getItem('courier.admin.accessToken')")
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["token_use"] == "access"
    assert claims["client_id"] == local_system.outputs["AdminUserPoolClientId"]

    # And signing out forgets the token and comes back signed out
    page.get_by_test_id("sign-out-button").click()
    expect(page.get_by_test_id("sign-in-button")).to_be_visible(timeout=30_000)
    assert page.evaluate("sessionStorage.getItem('courier.admin.accessToken')") is None
    page.close()


def test_a_signed_in_non_admin_is_refused_by_the_api(
    local_system: LocalSystem, browser: Browser
) -> None:
    page = browser.new_page()
    sign_in_in_the_browser(page, local_system, NON_ADMIN_USER)

    expect(page.get_by_test_id("error")).to_contain_text("not in the admin group", timeout=30_000)
    expect(page.get_by_test_id("admin-username")).to_be_hidden()
    page.close()


# ---- the same hosted UI over plain HTTP: who refuses what ---------------------------------------


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def code_flow_tokens(system: LocalSystem, username: str) -> dict[str, Any]:
    """Tokens from the hosted UI's code flow with PKCE, as the page gets them (no browser)."""
    base = system.outputs["AdminSignInUrl"]
    client_id = system.outputs["AdminUserPoolClientId"]
    redirect_uri = system.outputs["AdminConsoleUrl"]
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    form = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid email profile",
        "state": "s1",
        "response_type": "code",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "nonce": "",
        "username": username,
        "password": system.admin_users[username],
    }
    opener = urllib.request.build_opener(NoRedirect)
    try:
        opener.open(f"{base}/login", data=urlencode(form).encode(), timeout=30)
        raise AssertionError("the hosted UI did not redirect back with a code")
    except urllib.error.HTTPError as redirect:
        location = redirect.headers["Location"]
    assert location.startswith(redirect_uri), location
    code = parse_qs(urlsplit(location).query)["code"][0]
    exchange = urlencode(
        {
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
    ).encode()
    with urllib.request.urlopen(f"{base}/oauth2/token", data=exchange, timeout=30) as response:
        tokens: dict[str, Any] = json.loads(response.read())
    return tokens


def admin_me(system: LocalSystem, token: str | None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{system.api_base}/admin/me")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def test_the_authorizer_and_the_function_each_refuse_what_they_check(
    local_system: LocalSystem,
) -> None:
    admin = code_flow_tokens(local_system, ADMIN_USER)
    viewer = code_flow_tokens(local_system, NON_ADMIN_USER)

    # The emulator's JWT authorizer stops a request without a token before the function runs
    status, body = admin_me(local_system, None)
    assert status == 401
    assert "code" not in body  # API Gateway's own {"message": "Unauthorized"}

    # A forged token (the admin's claims, not the pool's signature) is stopped there too
    header, payload, _ = admin["access_token"].split(".")
    assert admin_me(local_system, f"{header}.{payload}.{'A' * 342}")[0] == 401

    # An ID token passes the authorizer (aud = the client id); the function wants the access token
    status, body = admin_me(local_system, admin["id_token"])
    assert (status, body.get("code")) == (401, "unauthorized")
    assert "access token" in body["message"]

    # The non-admin's valid access token passes the authorizer; the function checks the group
    status, body = admin_me(local_system, viewer["access_token"])
    assert (status, body.get("code")) == (403, "forbidden")

    # And the admin's access token gets through both
    status, body = admin_me(local_system, admin["access_token"])
    assert status == 200
    assert (body["username"], body["groups"]) == (ADMIN_USER, ["admin"])
