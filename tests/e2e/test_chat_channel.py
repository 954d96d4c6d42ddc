"""Chat end to end: real WebSocket clients through the emulator's API Gateway, Lambda and Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from local.demo import chat_client
from local.runtime import LocalSystem
from tests.e2e.conftest import Ledger


def _is_message_from(sub: str, text: str) -> Callable[[dict[str, Any]], bool]:
    return lambda f: f.get("type") == "message" and f["sender"]["sub"] == sub and f["text"] == text


def test_two_clients_in_a_room_chat_and_a_third_in_another_room_hears_nothing(
    local_system: LocalSystem, ledger: Ledger
) -> None:
    carol_token = local_system.mint_token("carol", "Carol", ["side-room"])
    # Given alice and bob in the lobby, and carol in a room of her own
    with (
        chat_client(local_system, "alice", local_system.tokens["alice"]) as alice,
        chat_client(local_system, "bob", local_system.tokens["bob"]) as bob,
        chat_client(local_system, "carol", carol_token) as carol,
    ):
        alice.join("lobby")
        bob.join("lobby")
        carol.join("side-room")
        alice.wait_for(lambda f: f.get("type") == "joined" and f["member"]["sub"] == "bob")
        # When alice and bob talk
        hello, reply = f"hello bob {uuid.uuid4().hex[:6]}", "hi alice"
        ack = alice.say("lobby", hello)
        # Then each hears the other, with the id the sender's ack named
        heard = bob.wait_for(_is_message_from("alice", hello))
        assert heard["message_id"] == ack["message_id"]
        assert heard["room"] == "lobby"
        bob.say("lobby", reply)
        alice.wait_for(_is_message_from("bob", reply))
        # And carol, in another room, receives nothing of it
        later = carol.drain(3)
        assert all(frame.get("room") != "lobby" for frame in carol.frames + later)
        assert not [f for f in carol.frames if f.get("type") == "message"]
    ledger.chat("lobby", "alice")
    ledger.chat("lobby", "bob")


def test_a_connect_without_a_token_is_refused(local_system: LocalSystem) -> None:
    # Given no token at all, then a forged one
    for token in (None, "not-a-token"):
        # When a client connects
        with pytest.raises(InvalidStatus) as refused, chat_client(local_system, "nobody", token):
            pass
        # Then the handshake is refused by the authorizer
        assert refused.value.response.status_code in (401, 403)


def test_a_room_outside_the_token_is_refused_and_the_connection_lives_on(
    local_system: LocalSystem,
) -> None:
    with chat_client(local_system, "bob", local_system.tokens["bob"]) as bob:
        # Given a connected client, when it sends a malformed frame and joins a foreign room
        bob.send_raw("{not json")
        malformed = bob.wait_for(lambda f: f.get("type") == "error")
        bob.send({"action": "join", "room": "staff-only"})
        forbidden = bob.wait_for(lambda f: f.get("type") == "error" and f is not malformed)
        # Then each gets an error reply naming the problem
        assert malformed["code"] == "malformed_json"
        assert forbidden["code"] == "forbidden"
        # And the connection still answers
        bob.send({"action": "ping"})
        assert bob.wait_for(lambda f: f.get("type") == "pong")["at"]
