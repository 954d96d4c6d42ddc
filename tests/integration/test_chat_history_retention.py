"""How long chat history lives: the TTL on every stored message, and deleting a room's history."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from courier.chat.cli import main
from courier.settings import get_settings
from tests.harness import REGION
from tests.integration.test_chat_channel import Client, connect_user


def stored(room: str) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name=REGION).Table("ChatMessages")
    items: list[dict[str, Any]] = table.query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"ROOM#{room}"}
    )["Items"]
    return items


def talk(client: Client, room: str, count: int) -> None:
    client.send({"action": "join", "room": room})
    for n in range(count):
        client.send(
            {"action": "send", "room": room, "text": f"{room} {n}", "client_msg_id": f"{room}-{n}"}
        )
    client.frames()


def test_every_stored_message_expires_after_the_retention(
    chat: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a retention of 30 days
    monkeypatch.setenv("CHAT_MESSAGE_RETENTION_DAYS", "30")
    get_settings.cache_clear()

    # When Alice sends a message
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    talk(alice, "lobby", 1)

    # Then its item carries the TTL attribute: 30 days after it was sent, in epoch seconds
    (item,) = stored("lobby")
    sent_at = datetime.fromisoformat(str(item["sent_at"]))
    assert int(item["expires_at"]) == int((sent_at + timedelta(days=30)).timestamp())


def test_history_delete_without_yes_only_counts(
    chat: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 7 messages in the lobby (Redis keeps the newest 5)
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    talk(alice, "lobby", 7)

    # When `chat history delete` runs without --yes
    code = main(["history", "delete", "--room", "lobby"])

    # Then it says what it would delete, and deletes nothing
    assert code == 0
    out = capsys.readouterr().out
    assert "would delete 7 stored and 5 recent messages of room 'lobby'" in out
    assert "--yes" in out
    assert len(stored("lobby")) == 7
    alice.send({"action": "history", "room": "lobby", "limit": 5})
    (page,) = alice.frames()
    assert len(page["messages"]) == 5


def test_history_delete_with_yes_deletes_the_room_in_dynamodb_and_redis_only(
    chat: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 30 messages in the lobby and 2 in team-a
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby", "team-a"])
    talk(alice, "lobby", 30)
    talk(alice, "team-a", 2)

    # When `chat history delete --room lobby --yes` runs
    code = main(["history", "delete", "--room", "lobby", "--yes"])

    # Then the lobby's messages are gone from the table and from Redis's recent history
    assert code == 0
    assert "deleted 30 stored and 5 recent messages of room 'lobby'" in capsys.readouterr().out
    assert stored("lobby") == []
    alice.send({"action": "history", "room": "lobby", "limit": 5})
    (page,) = alice.frames()
    assert (page["messages"], page.get("next_cursor")) == ([], None)
    # And team-a kept its history
    assert len(stored("team-a")) == 2


@pytest.mark.parametrize("room", ["team-*", "Lobby", ""])
def test_history_delete_takes_one_exact_room_name(
    room: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the room is a pattern or not a room name / Then it is a usage error, nothing runs
    assert main(["history", "delete", "--room", room, "--yes"]) == 2
    assert "--room" in capsys.readouterr().err
