"""Connecting to the chat: single-use tickets, never a token in the URL, revocation, token age.

The HTTP API and the $connect authorizer in-process through their handlers, against moto's
DynamoDB (tables from template.yaml) and the session's redis-server.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

import app as api_handler
import authorizer
from courier.chat.cli import main as chat_cli
from courier.chat.tokens import ALGORITHM, AUDIENCE, ISSUER, InvalidToken, TokenSigner
from courier.http_api import wiring
from courier.settings import get_settings
from tests.harness import FakeLambdaContext, load_event

CHAT_SECRET = "test-signing-secret-0123456789abcdef0123456789"
ORIGIN_SECRET = "local-origin-secret"
CONTEXT = FakeLambdaContext()


@pytest.fixture
def chat(chat_env: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", ORIGIN_SECRET)
    wiring.room_state.cache_clear()
    wiring.message_store.cache_clear()
    yield chat_env
    wiring.room_state.cache_clear()
    wiring.message_store.cache_clear()


def mint(sub: str = "u-ada", rooms: list[str] | None = None, **kwargs: Any) -> str:
    return TokenSigner(CHAT_SECRET).mint(sub, "Ada", rooms or ["lobby"], **kwargs)


def post_ticket(authorization: str | None) -> tuple[int, dict[str, str], Any]:
    event = copy.deepcopy(load_event("api/post-chat-ticket.json"))
    if authorization is None:
        event["headers"].pop("authorization")
    else:
        event["headers"]["authorization"] = authorization
    response = api_handler.handler(event, FakeLambdaContext())
    return response["statusCode"], response.get("headers", {}), json.loads(response["body"])


def read_history(token: str) -> int:
    event = copy.deepcopy(load_event("api/get-messages.json"))
    event["headers"]["authorization"] = f"Bearer {token}"
    status: int = api_handler.handler(event, FakeLambdaContext())["statusCode"]
    return status


def connect_with(query: dict[str, str] | None, headers: dict[str, str] | None = None) -> Any:
    """The authorizer's answer to a $connect with this query string (and these headers)."""
    event = copy.deepcopy(load_event("chat/authorizer.json"))
    event["queryStringParameters"] = query
    event["headers"].update(headers or {})
    result: dict[str, Any] = authorizer.handler(event, CONTEXT)
    return result


def connect_as(token: str) -> str:
    """What the web page does: buy a ticket with the token, connect with it; the effect."""
    status, _, body = post_ticket(f"Bearer {token}")
    if status != 201:
        return f"no ticket ({status})"
    return effect(connect_with({"ticket": body["ticket"]}))


def effect(decision: dict[str, Any]) -> str:
    return str(decision["policyDocument"]["Statement"][0]["Effect"])


def access(clock: datetime) -> Any:
    """The access checks on a fixed clock."""
    from courier.chat.access import ChatAccess
    from courier.chat.revocations import RevocationList
    from courier.chat.ticket_store import TicketStore

    settings = get_settings()
    return ChatAccess(
        TokenSigner(CHAT_SECRET),
        TicketStore.from_settings(settings),
        RevocationList.from_settings(settings),
        ticket_ttl_seconds=60,
        clock=lambda: clock,
    )


# Tickets -----------------------------------------------------------------------------------


def test_a_ticket_opens_exactly_one_connection(
    chat: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given Ada's token exchanged for a ticket through the HTTP API
    token = mint(rooms=["lobby", "team-*"])
    status, headers, body = post_ticket(f"Bearer {token}")
    assert status == 201
    assert headers.get("Cache-Control") == "no-store"
    assert 55 <= body["expires_in"] <= 60
    ticket = body["ticket"]
    assert len(ticket) >= 40
    assert token not in ticket

    # When a browser connects with ?ticket= and then tries the same ticket again
    first = connect_with({"ticket": ticket})
    second = connect_with({"ticket": ticket})

    # Then the first connect is allowed as Ada with her rooms, the second refused
    assert effect(first) == "Allow"
    assert first["principalId"] == "u-ada"
    assert first["context"] == {
        "sub": "u-ada",
        "name": "Ada",
        "rooms": json.dumps(["lobby", "team-*"]),
    }
    assert effect(second) == "Deny"
    assert "context" not in second
    # And neither the token nor the ticket was logged
    logged = capsys.readouterr()
    assert token not in logged.out + logged.err
    assert ticket not in logged.out + logged.err


def test_the_deployed_secrets_come_from_secrets_manager(
    chat: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the signing and origin secrets in Secrets Manager, as the stack configures them
    import boto3

    secrets = boto3.client("secretsmanager", region_name="ap-northeast-2")
    for name, variable, value in (
        ("ChatTokenSecret", "CHAT_TOKEN_SECRET", {"secret": CHAT_SECRET}),
        ("OriginVerifySecret", "ORIGIN_VERIFY_SECRET", {"value": ORIGIN_SECRET}),
    ):
        arn = secrets.create_secret(Name=name, SecretString=json.dumps(value))["ARN"]
        monkeypatch.delenv(variable)
        monkeypatch.setenv(f"{variable}_ARN", arn)
    get_settings.cache_clear()

    # When a token buys a ticket through the HTTP API and connects with it (each function reads
    # the secret itself: Powertools' in-process cache would hand the authorizer the API's read)
    from aws_lambda_powertools.utilities.parameters import clear_caches

    status, _, body = post_ticket(f"Bearer {mint()}")
    clear_caches()
    decision = connect_with({"ticket": body["ticket"]})

    # Then the API and the authorizer verified it with the secret they read
    assert status == 201
    assert effect(decision) == "Allow"


def test_a_ticket_is_unusable_after_its_minute(chat: Any) -> None:
    # Given a ticket issued at 12:00:00 (valid 60 s)
    noon = datetime.now(UTC).replace(microsecond=0)
    issued = access(noon).issue_ticket(mint(now=noon - timedelta(minutes=1)))
    assert issued.expires_at == noon + timedelta(seconds=60)
    # When it is presented 61 s later, then it is refused (TTL deletion may lag; the check not)
    with pytest.raises(InvalidToken, match="unknown, used or expired ticket"):
        access(noon + timedelta(seconds=61)).redeem_ticket(issued.ticket)


def test_a_ticket_never_outlives_its_token(chat: Any) -> None:
    noon = datetime.now(UTC).replace(microsecond=0)
    token = mint(ttl_seconds=20, now=noon - timedelta(seconds=10))
    issued = access(noon).issue_ticket(token)
    assert issued.expires_in == 10


def test_the_ticket_table_holds_no_usable_ticket(chat: Any) -> None:
    # Given a ticket issued
    _, _, body = post_ticket(f"Bearer {mint()}")
    # When the table is read, then only the ticket's hash is there, never its value
    items = chat.scan(TableName="ChatTickets")["Items"]
    assert len(items) == 1
    assert body["ticket"] not in json.dumps(items)


def test_a_ticket_needs_a_valid_bearer_token(chat: Any) -> None:
    expired = mint(ttl_seconds=60, now=datetime.now(UTC) - timedelta(minutes=5))
    for authorization in (None, "Bearer not-a-token", "Basic dXNlcjpwdw==", f"Bearer {expired}"):
        status, headers, body = post_ticket(authorization)
        assert (status, body["code"]) == (401, "unauthorized")
        assert headers.get("WWW-Authenticate") == "Bearer"
    assert chat.scan(TableName="ChatTickets")["Items"] == []


# Only a ticket opens the WebSocket ---------------------------------------------------------


def test_a_valid_token_itself_opens_no_connection(chat: Any) -> None:
    token = mint()
    # When a client connects with the valid token in ?token=, in ?ticket= or in a header
    attempts = [
        connect_with({"token": token}),
        connect_with({"ticket": token}),
        connect_with(None, {"Authorization": f"Bearer {token}"}),
        connect_with({"ticket": "made-up"}),
        connect_with(None),
    ]
    # Then every one is refused: only a ticket bought with the token opens a connection
    assert [effect(a) for a in attempts] == ["Deny"] * 5
    assert connect_as(token) == "Allow"


def test_the_maximum_token_age_setting_is_enforced_on_the_http_api(
    chat: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment whose tokens may be at most an hour old
    monkeypatch.setenv("CHAT_TOKEN_MAX_AGE_SECONDS", "3600")
    # And a correctly signed token issued two hours ago that only expires tomorrow
    now = int(datetime.now(UTC).timestamp())
    long_lived = jwt.encode(
        {"sub": "u-ada", "name": "Ada", "rooms": ["lobby"], "iat": now - 7200, "exp": now + 86400}
        | {"iss": ISSUER, "aud": AUDIENCE},
        CHAT_SECRET.encode(),
        algorithm=ALGORITHM,
    )
    # When it is used to buy a ticket or to read history, it is refused
    assert connect_as(long_lived) == "no ticket (401)"
    assert read_history(long_lived) == 401
    # And a fresh token still works
    assert connect_as(mint()) == "Allow"


# Revocation --------------------------------------------------------------------------------


def test_a_revoked_user_is_refused_until_given_a_new_token(
    chat: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given Ada's token, minted a minute ago, and a ticket she bought with it
    before = mint(now=datetime.now(UTC) - timedelta(minutes=1))
    _, _, bought = post_ticket(f"Bearer {before}")
    # And Bob's token
    bob = mint("u-bob")

    # When an operator revokes Ada
    assert chat_cli(["revoke", "--sub", "u-ada"]) == 0
    assert "revoked u-ada" in capsys.readouterr().out

    # Then the ticket bought before the revocation no longer opens a connection
    assert effect(connect_with({"ticket": bought["ticket"]})) == "Deny"
    # And her old token buys no ticket and reads no history
    assert connect_as(before) == "no ticket (401)"
    assert read_history(before) == 401
    # And Bob is not affected
    assert connect_as(bob) == "Allow"
    # And a token minted after the revocation works again
    assert connect_as(mint(now=datetime.now(UTC) + timedelta(seconds=2))) == "Allow"


def test_a_revocation_outlives_the_tokens_it_refuses(chat: Any) -> None:
    # When Ada is revoked with a maximum token age of a day
    chat_cli(["revoke", "--sub", "u-ada"])
    (item,) = chat.scan(TableName="ChatRevocations")["Items"]
    # Then the record lives past every token issued before it (TTL = time + max age + margin)
    revoked_at, expires_at = int(item["revoked_at"]["N"]), int(item["expires_at"]["N"])
    assert expires_at - revoked_at >= 24 * 3600
    assert abs(revoked_at - datetime.now(UTC).timestamp()) < 5
