"""The `chat` console script: minting tokens and printing the chat JSON Schemas."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from courier.chat.cli import main
from courier.chat.tokens import MIN_SECRET_BYTES, TokenSigner

ROOT = Path(__file__).resolve().parents[2]
SECRET = "c" * MIN_SECRET_BYTES


@pytest.fixture(autouse=True)
def _no_secret_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAT_TOKEN_SECRET", raising=False)
    monkeypatch.delenv("CHAT_TOKEN_SECRET_ARN", raising=False)


def test_token_prints_only_a_token_the_same_secret_verifies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # When a token is minted for Alice with a room and a pattern
    code = main(
        ["token", "--sub", "u-1", "--name", "Alice", "--room", "lobby", "--room", "team-*",
         "--secret", SECRET]
    )  # fmt: skip
    out, err = capsys.readouterr()
    # Then stdout is the token alone, and the same secret verifies it to those claims
    assert code == 0
    assert out.endswith("\n")
    assert len(out.splitlines()) == 1
    claims = TokenSigner(SECRET).verify(out.strip())
    assert (claims.sub, claims.name, claims.rooms) == ("u-1", "Alice", ["lobby", "team-*"])
    assert claims.exp - claims.iat == 3600
    # And the secret is printed nowhere
    assert SECRET not in out + err
    assert err.startswith("expires ")


def test_token_reads_the_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the secret in CHAT_TOKEN_SECRET / When minted with a 60 s lifetime
    monkeypatch.setenv("CHAT_TOKEN_SECRET", SECRET)
    assert main(["token", "--sub", "u-2", "--name", "밥", "--room", "lobby", "--ttl", "60"]) == 0
    # Then it verifies with that secret and expires in a minute
    claims = TokenSigner(SECRET).verify(capsys.readouterr().out.strip())
    assert claims.name == "밥"
    assert claims.exp - claims.iat == 60
    assert abs(claims.iat - time.time()) < 5


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["token", "--sub", "u-1", "--name", "A", "--room", "lobby"], "CHAT_TOKEN_SECRET"),
        (["token", "--sub", "u-1", "--name", "A", "--room", "lobby", "--secret", "short"],
         "at least 32 bytes"),
        (["token", "--sub", "u-1", "--name", "A", "--room", "Lobby", "--secret", SECRET],
         "--room #1"),
        (["token", "--sub", "u-1", "--name", "A", "--room", "a", "--room", "b c",
          "--secret", SECRET], "--room #2"),
        (["token", "--sub", "", "--name", "A", "--room", "a", "--secret", SECRET], "--sub"),
        (["token", "--name", "A", "--room", "lobby", "--secret", SECRET], "--sub"),
        (["token", "--sub", "u-1", "--name", "A", "--secret", SECRET], "--room"),
        (["token", "--sub", "u-1", "--name", "A", "--room", "a", "--ttl", "0",
          "--secret", SECRET], "--ttl"),
        (["token", "--sub", "u-1", "--name", "A", "--room", "a", "--ttl", "soon",
          "--secret", SECRET], "--ttl"),
        (["schema", "sms"], "invalid choice"),
        ([], "COMMAND"),
    ],
    ids=["no secret", "short secret", "bad room", "second room bad", "empty sub", "no sub",
         "no room", "ttl 0", "ttl text", "unknown schema", "no command"],
)  # fmt: skip
def test_usage_errors_exit_2_with_nothing_on_stdout(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    assert SECRET not in err


@pytest.mark.parametrize(
    ("which", "file_name"),
    [
        ("client", "chat-client-frame.v1.schema.json"),
        ("server", "chat-server-event.v1.schema.json"),
    ],
)
def test_schema_prints_the_committed_file(
    which: str, file_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # When `chat schema client|server` runs / Then it prints exactly the committed schema
    assert main(["schema", which]) == 0
    out = capsys.readouterr().out
    assert out == (ROOT / "schemas" / file_name).read_text(encoding="utf-8")
    assert json.loads(out)["$id"].endswith(file_name)


def test_schema_alone_prints_both_as_one_json_document(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["schema"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert sorted(both) == ["client", "server"]
    for kind, file_name in [("client", "chat-client-frame"), ("server", "chat-server-event")]:
        committed = json.loads((ROOT / "schemas" / f"{file_name}.v1.schema.json").read_text())
        assert both[kind] == committed


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--help"]) == 0
    assert "--room" in capsys.readouterr().out
