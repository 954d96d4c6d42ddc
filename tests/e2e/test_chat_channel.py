"""Chat end to end: real WebSocket clients through the emulator's API Gateway, Lambda and Redis."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from local.clients import chat_client
from local.system import LocalSystem
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


def test_a_connect_without_a_ticket_is_refused(local_system: LocalSystem) -> None:
    # Given no credentials at all
    # When a client connects
    with pytest.raises(InvalidStatus) as refused, chat_client(local_system, "nobody", None):
        pass
    # Then the handshake is refused
    assert refused.value.response.status_code in (401, 403)


def test_a_ticket_opens_one_connection_and_a_token_in_the_url_none(
    local_system: LocalSystem,
) -> None:
    token = local_system.tokens["bob"]
    ticket = local_system.connect_ticket(token)
    # Given a ticket that has opened a connection
    with connect(f"{local_system.websocket_url}?ticket={ticket}", open_timeout=60) as first:
        first.send(json.dumps({"action": "ping"}))
        assert json.loads(first.recv(timeout=30))["type"] == "pong"
    # When the same ticket, a made-up ticket, or the valid token itself in the URL is tried
    for query in (f"ticket={ticket}", "ticket=made-up", f"token={token}", f"ticket={token}"):
        with (
            pytest.raises(InvalidStatus) as refused,
            connect(f"{local_system.websocket_url}?{query}", open_timeout=60),
        ):
            pass
        # Then each handshake is refused
        assert refused.value.response.status_code in (401, 403), query


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
