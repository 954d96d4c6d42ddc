"""Chat under faults: a failed store never makes a retry a duplicate; errors answer a frame."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from courier.chat.message_store import MessageStore
from tests.harness import REGION
from tests.integration.test_chat_channel import connect_user


def fail_first_call(operation: str, real: Callable[..., Any]) -> Callable[..., Any]:
    """`real`, except that its first call raises the error DynamoDB gives when it has a bad day."""
    calls = 0

    def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ClientError(
                {"Error": {"Code": "InternalServerError", "Message": "try again"}}, operation
            )
        return real(*args, **kwargs)

    return flaky


def stored_texts(room: str) -> list[str]:
    table = boto3.resource("dynamodb", region_name=REGION).Table("ChatMessages")
    items = table.query(
        KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": f"ROOM#{room}"}
    )["Items"]
    return [str(item["text"]) for item in items]


def test_a_send_that_was_not_stored_is_not_acknowledged_as_a_duplicate_on_retry(
    chat: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Alice and Bob in the lobby
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    bob = connect_user("bob1", "u-bob", "Bob", ["lobby"])
    for client in (alice, bob):
        client.send({"action": "join", "room": "lobby"})
    alice.frames(), bob.frames()
    # And the ChatMessages write failing once
    monkeypatch.setattr(MessageStore, "append", fail_first_call("PutItem", MessageStore.append))
    frame = {"action": "send", "room": "lobby", "text": "kept", "client_msg_id": "a-7"}

    # When Alice sends, and her client retries the same client_msg_id after the failure
    alice.send(frame)
    first = alice.frames()
    alice.send(frame)

    # Then the failed attempt was not acknowledged, the retry was a new send (not a duplicate),
    # and the message is stored and reached Bob exactly once
    assert [f["type"] for f in first] == ["error"]
    acks = alice.frames()
    assert [(a["type"], a["duplicate"]) for a in acks] == [("ack", False)]
    assert stored_texts("lobby") == ["kept"]
    assert [(f["type"], f["text"]) for f in bob.frames()] == [("message", "kept")]

    # And a further retry is now the duplicate of the stored message
    alice.send(frame)
    (again,) = alice.frames()
    assert (again["duplicate"], again["message_id"]) == (True, acks[0]["message_id"])


def test_a_failing_frame_gets_an_internal_error_and_the_connection_lives_on(
    chat: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given Alice in the lobby with one message in it
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    alice.send({"action": "join", "room": "lobby"})
    alice.send({"action": "send", "room": "lobby", "text": "hello", "client_msg_id": "a-1"})
    alice.frames()
    # And the history read failing once (a DynamoDB outage; Redis holds less than a page)
    monkeypatch.setattr(MessageStore, "page", fail_first_call("Query", MessageStore.page))

    # When she asks for the history, then asks again and pings
    # (Client.send asserts the handler answered API Gateway 200: the connection stays open)
    alice.send({"action": "history", "room": "lobby"})
    alice.send({"action": "history", "room": "lobby"})
    alice.send({"action": "ping"})

    # Then the failed frame got the contract's internal_error, and the next ones their answers
    frames = alice.frames()
    assert [(f["type"], f.get("code"), f.get("action")) for f in frames] == [
        ("error", "internal_error", "history"),
        ("history", None, None),
        ("pong", None, None),
    ]
    assert [m["text"] for m in frames[1]["messages"]] == ["hello"]
