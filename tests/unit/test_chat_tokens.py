"""Chat tokens: minting, verification failures, room patterns, and where the secret comes from."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import jwt
import pytest
from aws_lambda_powertools.utilities import parameters
from moto import mock_aws

from courier.chat.room_access import may_access
from courier.chat.tokens import (
    AUDIENCE,
    ISSUER,
    MIN_SECRET_BYTES,
    ChatClaims,
    InvalidClaims,
    InvalidToken,
    TokenSigner,
    token_signer_from_settings,
)
from courier.settings import Settings
from tests.harness import REGION

SECRET = "s" * MIN_SECRET_BYTES
OTHER_SECRET = "o" * MIN_SECRET_BYTES


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(SECRET)


def claims_for(**overrides: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    return {
        "sub": "u-1",
        "name": "Alice",
        "rooms": ["lobby"],
        "iat": now,
        "exp": now + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
        **overrides,
    }


def segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def refusal(signer: TokenSigner, token: str) -> str:
    with pytest.raises(InvalidToken) as caught:
        signer.verify(token)
    reason = caught.value.reason
    # Whatever went wrong, the reason is safe to log: it never carries the token
    assert not token or token not in reason
    assert len(token) < 20 or token[-20:] not in reason
    return reason


# Round trip --------------------------------------------------------------------------------


def test_a_minted_token_verifies_to_its_claims(signer: TokenSigner) -> None:
    # Given a token minted for Alice with a room and a pattern, issued now for an hour
    now = datetime.now(UTC).replace(microsecond=0)
    token = signer.mint("u-1", "Alice 앨리스", ["lobby", "team-*"], ttl_seconds=3600, now=now)
    # When verified with the same secret
    claims = signer.verify(token)
    # Then it gives back exactly what was minted
    assert claims == ChatClaims(
        sub="u-1",
        name="Alice 앨리스",
        rooms=["lobby", "team-*"],
        iat=int(now.timestamp()),
        exp=int(now.timestamp()) + 3600,
        iss="courier",
        aud="courier-chat",
    )
    # And it is an HS256 JWT
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_mint_refuses_claims_verify_would_refuse(signer: TokenSigner) -> None:
    # Given bad room patterns, names or lifetimes / When minting / Then nothing is issued
    for rooms in (["Lobby"], ["team a"], ["team-[ab]"], ["r" * 65], [""]):
        with pytest.raises(InvalidClaims):
            signer.mint("u-1", "Alice", rooms)
    with pytest.raises(InvalidClaims):
        signer.mint("", "Alice", ["lobby"])
    with pytest.raises(InvalidClaims):
        signer.mint("u-1", "n" * 65, ["lobby"])
    with pytest.raises(ValueError, match="ttl"):
        signer.mint("u-1", "Alice", ["lobby"], ttl_seconds=0)


# Refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("", "missing token"),
        ("garbage", "malformed token"),
        ("a.b.c", "malformed token"),
        ("...", "malformed token"),
        ("e30.e30.e30", "malformed token"),  # {}.{}: no algorithm at all
        (f"{segment({'alg': 'HS256'})}.bm90IGpzb24.sig", "bad signature"),
        (jwt.PyJWS().encode(b"not json", SECRET, algorithm="HS256"), "malformed token"),
    ],
    ids=["empty", "one part", "not base64", "dots", "no alg", "forged", "signed non-json"],
)
def test_missing_or_garbled_tokens_are_refused(
    signer: TokenSigner, token: str, reason: str
) -> None:
    assert refusal(signer, token) == reason


def test_an_expired_token_is_refused(signer: TokenSigner) -> None:
    # Given a one-hour token issued an hour and ten seconds ago (beyond the 5 s leeway)
    issued = datetime.now(UTC) - timedelta(seconds=3610)
    token = signer.mint("u-1", "Alice", ["lobby"], ttl_seconds=3600, now=issued)
    # When verified / Then it is refused as expired
    assert refusal(signer, token) == "token expired"


def test_expiry_allows_a_little_clock_skew(signer: TokenSigner) -> None:
    # Given a token that expired two seconds ago (within the 5 s leeway) / Then it still verifies
    issued = datetime.now(UTC) - timedelta(seconds=62)
    token = signer.mint("u-1", "Alice", ["lobby"], ttl_seconds=60, now=issued)
    assert signer.verify(token).sub == "u-1"


def test_a_token_from_the_future_is_refused(signer: TokenSigner) -> None:
    token = signer.mint("u-1", "Alice", ["lobby"], now=datetime.now(UTC) + timedelta(minutes=5))
    assert refusal(signer, token) == "token issued in the future"


def test_a_token_signed_with_another_secret_is_refused(signer: TokenSigner) -> None:
    token = TokenSigner(OTHER_SECRET).mint("u-1", "Alice", ["lobby"])
    assert refusal(signer, token) == "bad signature"


def test_a_tampered_token_is_refused(signer: TokenSigner) -> None:
    # Given a valid token whose payload is swapped for one granting every room
    header, _, signature = signer.mint("u-1", "Alice", ["lobby"]).split(".")
    forged = ".".join([header, segment(claims_for(rooms=["*"])), signature])
    # Then the signature no longer matches
    assert refusal(signer, forged) == "bad signature"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"aud": "courier-admin"}, "wrong audience"),
        ({"aud": ["courier-chat", "other"]}, "wrong audience"),
        ({"iss": "someone-else"}, "wrong issuer"),
    ],
)
def test_wrong_audience_or_issuer_is_refused(
    signer: TokenSigner, overrides: dict[str, Any], reason: str
) -> None:
    # Given a token signed with our secret but meant for someone else
    token = jwt.encode(claims_for(**overrides), SECRET, algorithm="HS256")
    assert refusal(signer, token) == reason


@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss", "aud"])
def test_a_missing_registered_claim_is_refused(signer: TokenSigner, claim: str) -> None:
    payload = claims_for()
    del payload[claim]
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    assert refusal(signer, token) == f"missing claim {claim!r}"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"rooms": ["Lobby"]}, "rooms"),
        ({"rooms": "lobby"}, "rooms"),
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
    ],
)
def test_bad_chat_claims_are_refused(
    signer: TokenSigner, overrides: dict[str, Any], field: str
) -> None:
    # Given a correctly signed token whose chat claims are wrong / Then it is refused, naming them
    token = jwt.encode(claims_for(**overrides), SECRET, algorithm="HS256")
    assert refusal(signer, token) == f"bad claims: {field}"


def test_missing_chat_claims_are_refused(signer: TokenSigner) -> None:
    payload = claims_for()
    del payload["name"], payload["rooms"]
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    assert refusal(signer, token) == "bad claims: name, rooms"


def test_alg_none_is_refused(signer: TokenSigner) -> None:
    # Given an unsigned token (alg "none") granting every room
    token = f"{segment({'alg': 'none', 'typ': 'JWT'})}.{segment(claims_for(rooms=['*']))}."
    # Then it is refused for its algorithm
    assert refusal(signer, token) == "algorithm 'none' is not accepted"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS512", "HS384"])
def test_other_hmac_algorithms_are_refused_even_with_our_secret(
    signer: TokenSigner, algorithm: str
) -> None:
    token = jwt.encode(claims_for(), SECRET, algorithm=algorithm)
    assert refusal(signer, token) == f"algorithm {algorithm!r} is not accepted"


def test_the_secret_must_be_at_least_32_bytes() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenSigner("x" * (MIN_SECRET_BYTES - 1))
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenSigner("")
    # Bytes count, not characters: 11 Hangul syllables are 33 bytes
    assert TokenSigner("가" * 11).verify(TokenSigner("가" * 11).mint("u", "U", ["a"])).sub == "u"


def test_the_secret_never_shows_in_reprs() -> None:
    assert SECRET not in repr(TokenSigner(SECRET))
    assert SECRET not in repr(Settings(chat_token_secret=SECRET))


# Room access -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grants", "room", "allowed"),
    [
        (["team-*"], "team-a", True),
        (["team-*"], "team-", True),
        (["team-*"], "lobby", False),
        (["team-*"], "my-team-a", False),
        (["lobby"], "lobby", True),
        (["lobby"], "lobby2", False),
        (["lobby"], "lobb", False),
        (["room-?"], "room-1", True),
        (["room-?"], "room-12", False),
        (["*"], "anything", True),
        (["lobby", "team-*"], "team-b", True),
        ([], "lobby", False),
        (["*"], "Lobby", False),
        (["*"], "../etc", False),
        (["*"], "", False),
    ],
)
def test_room_access_by_name_or_pattern(grants: list[str], room: str, allowed: bool) -> None:
    claims = ChatClaims(sub="u-1", name="Alice", rooms=grants, exp=2, iat=1, all_rooms=True)
    assert may_access(claims.rooms, room) is allowed


# Where the secret comes from ---------------------------------------------------------------


@pytest.fixture
def secrets_manager(aws_env: None) -> Iterator[Any]:
    # Powertools keeps its provider and cached values per process: start each test clean.
    parameters.clear_caches()
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)
    parameters.clear_caches()


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "plain"])
def test_the_secret_comes_from_secrets_manager(secrets_manager: Any, as_json: bool) -> None:
    # Given the signing secret stored in Secrets Manager as JSON or as a plain string
    value = json.dumps({"secret": SECRET}) if as_json else SECRET
    arn = secrets_manager.create_secret(Name="courier/chat-token", SecretString=value)["ARN"]
    # When the signer is built from settings naming the secret (and a plain one that must lose)
    signer = token_signer_from_settings(
        Settings(chat_token_secret_arn=arn, chat_token_secret=OTHER_SECRET)
    )
    # Then it verifies tokens signed with the stored secret, not the plain setting
    assert signer.verify(TokenSigner(SECRET).mint("u-1", "Alice", ["lobby"])).sub == "u-1"
    assert refusal(signer, TokenSigner(OTHER_SECRET).mint("u-1", "Alice", ["lobby"]))


def test_a_json_secret_without_the_key_is_a_clear_error(secrets_manager: Any) -> None:
    arn = secrets_manager.create_secret(
        Name="courier/chat-token", SecretString=json.dumps({"password": SECRET})
    )["ARN"]
    with pytest.raises(RuntimeError, match="'secret' key"):
        token_signer_from_settings(Settings(chat_token_secret_arn=arn))


def test_the_plain_setting_serves_local_runs() -> None:
    signer = token_signer_from_settings(Settings(chat_token_secret=SECRET))
    assert signer.verify(TokenSigner(SECRET).mint("u-1", "Alice", ["lobby"])).name == "Alice"


def test_settings_read_the_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("CHAT_TOKEN_SECRET_ARN", "")
    settings = Settings.from_env()
    assert settings.chat_token_secret == SECRET
    assert settings.chat_token_secret_arn == ""


def test_no_secret_configured_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="CHAT_TOKEN_SECRET_ARN"):
        token_signer_from_settings(Settings())


def test_redeeming_a_ticket_never_builds_the_signer() -> None:
    # Given access checks whose signer, if ever built, fails (as reading a missing secret would)
    from datetime import UTC, datetime

    from courier.chat.access import ChatAccess

    now = int(datetime.now(UTC).timestamp())
    claims = TokenSigner(SECRET).mint("u-1", "Alice", ["lobby"])
    stored = TokenSigner(SECRET).verify(claims).to_json()

    class OneTicket:
        def consume(self, ticket: str, *, now: int) -> str | None:
            return stored if ticket == "t-1" else None

    class NoRevocations:
        def revoked_at(self, sub: str) -> int | None:
            return None

    def no_signer() -> TokenSigner:
        raise AssertionError("the signer was built")

    access = ChatAccess(
        no_signer,
        OneTicket(),  # type: ignore[arg-type]
        NoRevocations(),  # type: ignore[arg-type]
        ticket_ttl_seconds=60,
        clock=lambda: datetime.fromtimestamp(now, UTC),
    )
    # When the $connect authorizer's call redeems a ticket, Then it yields the claims unsigned
    assert access.redeem_ticket("t-1").sub == "u-1"
    # And checking a token is what builds the signer
    with pytest.raises(AssertionError, match="signer was built"):
        access.authenticate(claims)
