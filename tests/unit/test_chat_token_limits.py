"""Limits on chat tokens: a maximum age, an explicit flag for all-rooms grants, one room rule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from courier.chat.cli import main
from courier.chat.tokens import (
    ALGORITHM,
    MIN_SECRET_BYTES,
    InvalidToken,
    TokenSigner,
    token_signer_from_settings,
)
from courier.settings import Settings
from tests.unit.test_chat_tokens import claims_for

SECRET = "m" * MIN_SECRET_BYTES
HOUR = 3600


def may_access(grants: list[str], room: str) -> bool:
    from courier.chat.room_access import may_access as rule

    return rule(grants, room)


def signed(**claims: Any) -> str:
    """A token signed with our secret, with exactly these claims on top of valid defaults."""
    payload = claims_for(**claims)
    return jwt.encode(payload, SECRET.encode(), algorithm=ALGORITHM)


@pytest.fixture(autouse=True)
def _no_chat_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CHAT_TOKEN_SECRET", "CHAT_TOKEN_SECRET_ARN", "CHAT_TOKEN_MAX_AGE_SECONDS"):
        monkeypatch.delenv(name, raising=False)


# Maximum age -------------------------------------------------------------------------------


def test_an_unexpired_token_older_than_a_day_is_refused() -> None:
    # Given a token issued 25 hours ago that claims to be valid for another hour
    now = int(datetime.now(UTC).timestamp())
    token = signed(iat=now - 25 * HOUR, exp=now + HOUR)
    # When a verifier with the default maximum age (24 h) checks it
    with pytest.raises(InvalidToken) as refused:
        TokenSigner(SECRET).verify(token)
    # Then it is refused for its age, with a reason that holds no token
    assert "older than" in refused.value.reason
    assert token[-20:] not in refused.value.reason


def test_a_token_just_under_the_maximum_age_is_accepted() -> None:
    now = int(datetime.now(UTC).timestamp())
    token = signed(iat=now - 24 * HOUR + 60, exp=now + HOUR)
    assert TokenSigner(SECRET).verify(token).sub == "u-1"


def test_the_maximum_age_comes_from_the_settings() -> None:
    # Given a deployment whose maximum token age is one hour
    settings = Settings(chat_token_secret=SECRET, chat_token_max_age_seconds=HOUR)
    now = int(datetime.now(UTC).timestamp())
    # When a two-hour-old token that expires tomorrow is verified
    with pytest.raises(InvalidToken) as refused:
        token_signer_from_settings(settings).verify(signed(iat=now - 2 * HOUR, exp=now + 86400))
    # Then it is refused
    assert "older than 3600 s" in refused.value.reason


def test_the_maximum_age_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_TOKEN_MAX_AGE_SECONDS", "7200")
    assert Settings.from_env().chat_token_max_age_seconds == 7200
    assert Settings().chat_token_max_age_seconds == 24 * HOUR


def test_no_token_is_minted_that_would_outlive_the_maximum_age() -> None:
    signer = TokenSigner(SECRET, max_age_seconds=HOUR)
    with pytest.raises(ValueError, match="at most 3600"):
        signer.mint("u-1", "Alice", ["lobby"], ttl_seconds=HOUR + 1)
    assert signer.verify(signer.mint("u-1", "Alice", ["lobby"], ttl_seconds=HOUR)).sub == "u-1"


def test_the_cli_refuses_a_ttl_beyond_the_maximum_age(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["token", "--sub", "u-1", "--name", "A", "--room", "lobby", "--secret", SECRET]
    assert main([*argv, "--ttl", str(24 * HOUR + 1)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "--ttl: at most 86400" in err


# A grant of every room needs an explicit flag ----------------------------------------------


@pytest.mark.parametrize("grant", ["*", "**", "*?", "?*"])
def test_a_wildcard_only_grant_is_refused_without_the_flag(grant: str) -> None:
    # Given a signer, when asked for a token granting a bare wildcard without the flag
    with pytest.raises(ValueError, match="allow_all_rooms"):
        TokenSigner(SECRET).mint("u-1", "Alice", ["lobby", grant])


def test_with_the_flag_a_star_grant_opens_every_room() -> None:
    signer = TokenSigner(SECRET)
    # When minted with allow_all_rooms=True
    claims = signer.verify(signer.mint("ops", "Ops", ["*"], allow_all_rooms=True))
    # Then the token says so, and the one room rule lets it into any valid room
    assert claims.all_rooms is True
    assert may_access(claims.rooms, "anything-at-all")
    assert not may_access(claims.rooms, "Not A Room")


def test_patterns_with_a_literal_part_need_no_flag() -> None:
    signer = TokenSigner(SECRET)
    claims = signer.verify(signer.mint("u-1", "Alice", ["team-*", "room-?"]))
    assert claims.all_rooms is False
    assert "all_rooms" not in jwt.decode(
        signer.mint("u-1", "Alice", ["team-*"]), options={"verify_signature": False}
    )


def test_a_signed_star_grant_without_the_all_rooms_claim_is_refused() -> None:
    # Given a correctly signed token whose rooms hold a bare "*" but no all_rooms claim
    token = signed(rooms=["*"])
    # When verified, then it is refused as bad claims
    with pytest.raises(InvalidToken) as refused:
        TokenSigner(SECRET).verify(token)
    assert refused.value.reason == "bad claims: rooms"
    # And with the claim it is accepted
    assert TokenSigner(SECRET).verify(signed(rooms=["*"], all_rooms=True)).all_rooms


def test_the_cli_needs_all_rooms_for_a_star_grant(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["token", "--sub", "ops", "--name", "Ops", "--room", "*", "--secret", SECRET]
    # When `chat token --room '*'` is run without --all-rooms, then it is a usage error
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "--all-rooms" in err
    # And with --all-rooms it prints a token that opens every room
    assert main([*argv, "--all-rooms"]) == 0
    claims = TokenSigner(SECRET).verify(capsys.readouterr().out.strip())
    assert (claims.rooms, claims.all_rooms) == (["*"], True)


# One room rule -----------------------------------------------------------------------------


def test_the_channel_and_the_http_api_use_the_one_room_rule() -> None:
    from courier.chat import channel, room_access, tokens
    from courier.http_api import chat_routes

    # Given the room-access rule in courier.chat.room_access
    rule = room_access.may_access
    # Then the channel (join, send, history) and the HTTP history route call that function
    assert channel.may_access is rule
    assert chat_routes.may_access is rule
    # And no second copy of it exists anywhere else
    assert not hasattr(channel, "room_allowed")
    assert not hasattr(tokens, "may_access")


def test_the_rule_refuses_what_is_not_a_room_name() -> None:
    assert may_access(["*"], "lobby")
    for not_a_room in ("", "Lobby", "../etc", "a" * 65, "lobby\n"):
        assert not may_access(["*"], not_a_room)


def test_the_rule_is_exact_and_case_sensitive() -> None:
    assert may_access(["team-*"], "team-a")
    assert not may_access(["team-*"], "my-team-a")
    assert not may_access(["lobby"], "lobby2")
