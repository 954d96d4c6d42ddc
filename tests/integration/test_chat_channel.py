"""The chat handlers in-process: moto DynamoDB and @connections, a real redis-server."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

import authorizer
import channel as channel_handler
import connect
import default
import disconnect
import sweep
from courier.chat import wiring
from courier.chat.access import chat_access_from_settings
from courier.chat.fanout import ApiGatewayPoster, ConnectionPoster, GoneConnection
from courier.chat.frames import SendFrame
from courier.chat.tokens import InvalidToken, TokenSigner
from courier.settings import get_settings
from tests.harness import ACCOUNT, REGION, FakeLambdaContext, load_event
from tests.integration.conftest import CHAT_API_ENDPOINT

SECRET = "test-signing-secret-0123456789abcdef0123456789"
CONTEXT = FakeLambdaContext()


class RoutedPoster:
    """Posts through the real adapter, a chosen one per connection (to inject a 410 Gone)."""

    def __init__(self, default: ConnectionPoster, special: dict[str, ConnectionPoster]) -> None:
        self.default = default
        self.special = special

    def post(self, connection_id: str, data: bytes) -> None:
        self.special.get(connection_id, self.default).post(connection_id, data)


def received(connection_id: str) -> list[dict[str, Any]]:
    """Every frame moto's @connections recorded for a connection, in order."""
    backend = apigatewaymanagementapi_backends[ACCOUNT][REGION]
    if connection_id not in backend.connections:
        return []
    data = backend.connections[connection_id].data.decode()
    decoder, frames, index = json.JSONDecoder(), [], 0
    while index < len(data):
        frame, index = decoder.raw_decode(data, index)
        frames.append(frame)
    backend.connections[connection_id].data = b""
    return frames


class Client:
    """One browser tab: a connection id and the token it connected with."""

    def __init__(self, connection_id: str) -> None:
        self.connection_id = connection_id

    def send(self, frame: dict[str, Any] | str, route: str | None = None) -> None:
        body = frame if isinstance(frame, str) else json.dumps(frame, ensure_ascii=False)
        action = None if isinstance(frame, str) else frame.get("action")
        event = copy.deepcopy(load_event(f"chat/{action if action in _ROUTES else 'ping'}.json"))
        event["requestContext"]["connectionId"] = self.connection_id
        event["requestContext"]["routeKey"] = route or (action if action in _ROUTES else "$default")
        event["body"] = body
        module = default if event["requestContext"]["routeKey"] == "$default" else channel_handler
        assert module.handler(event, CONTEXT) == {"statusCode": 200}

    def frames(self) -> list[dict[str, Any]]:
        return received(self.connection_id)


_ROUTES = {"join", "leave", "send", "history", "ping"}


def authorize(token: str) -> dict[str, Any]:
    # As the web page connects: the token buys a single-use ticket, the URL carries the ticket.
    # A token the ticket route refuses buys none, so that connect carries no ticket.
    try:
        ticket = chat_access_from_settings(get_settings()).issue_ticket(token).ticket
    except InvalidToken:
        ticket = ""
    event = copy.deepcopy(load_event("chat/authorizer.json"))
    event["queryStringParameters"] = {"ticket": ticket} if ticket else None
    result: dict[str, Any] = authorizer.handler(event, CONTEXT)
    return result


def connect_user(connection_id: str, sub: str, name: str, rooms: list[str]) -> Client:
    token = TokenSigner(SECRET).mint(sub=sub, name=name, rooms=rooms)
    decision = authorize(token)
    assert decision["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    event = copy.deepcopy(load_event("chat/connect.json"))
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["authorizer"] = decision["context"]
    assert connect.handler(event, CONTEXT) == {"statusCode": 200}
    return Client(connection_id)


def test_messages_reach_exactly_the_members_of_the_room(chat: None) -> None:
    # Given three users: Alice and Bob in "lobby", Carol in "team-a" (and allowed in both)
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    bob = connect_user("bob1", "u-bob", "Bob", ["lobby", "team-*"])
    carol = connect_user("carol1", "u-carol", "Carol", ["lobby", "team-*"])
    alice.send({"action": "join", "room": "lobby"})
    bob.send({"action": "join", "room": "lobby"})
    carol.send({"action": "join", "room": "team-a"})
    for client in (alice, bob, carol):
        client.frames()

    # When Alice sends to the lobby and Carol to team-a
    alice.send({"action": "send", "room": "lobby", "text": "hi lobby", "client_msg_id": "a-1"})
    carol.send({"action": "send", "room": "team-a", "text": "hi team", "client_msg_id": "c-1"})

    # Then Bob got Alice's message only, Alice got her ack only, Carol her ack only
    alice_frames, bob_frames, carol_frames = alice.frames(), bob.frames(), carol.frames()
    assert [(f["type"], f.get("text")) for f in bob_frames] == [("message", "hi lobby")]
    assert bob_frames[0]["sender"] == {"sub": "u-alice", "name": "Alice"}
    assert [(f["type"], f["duplicate"]) for f in alice_frames] == [("ack", False)]
    assert alice_frames[0]["message_id"] == bob_frames[0]["message_id"]
    assert [f["type"] for f in carol_frames] == ["ack"]


def test_join_presence_and_joined_events(chat: None) -> None:
    # Given Alice in the lobby
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    alice.send({"action": "join", "room": "lobby"})
    assert alice.frames() == [
        {"type": "presence", "room": "lobby", "members": [{"sub": "u-alice", "name": "Alice"}]}
    ]

    # When Bob joins
    bob = connect_user("bob1", "u-bob", "Bob", ["lobby"])
    bob.send({"action": "join", "room": "lobby"})

    # Then Bob gets the member list and Alice hears that Bob joined
    assert bob.frames()[0]["members"] == [
        {"sub": "u-alice", "name": "Alice"},
        {"sub": "u-bob", "name": "Bob"},
    ]
    assert alice.frames() == [
        {"type": "joined", "room": "lobby", "member": {"sub": "u-bob", "name": "Bob"}}
    ]


def test_join_outside_the_tokens_rooms_is_refused(chat: None) -> None:
    # Given Alice whose token covers only the lobby
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])

    # When she tries to join, send to and read team-a
    alice.send({"action": "join", "room": "team-a"})
    alice.send({"action": "history", "room": "team-a"})
    alice.send({"action": "send", "room": "team-a", "text": "x", "client_msg_id": "a-1"})

    # Then each is refused as forbidden and she is in no room
    frames = alice.frames()
    assert [(f["type"], f["code"], f["action"]) for f in frames] == [
        ("error", "forbidden", "join"),
        ("error", "forbidden", "history"),
        ("error", "forbidden", "send"),
    ]


def test_expired_and_garbled_tokens_are_denied_at_connect(chat: None) -> None:
    # Given a token that expired a minute ago, and one signed with another secret
    expired = TokenSigner(SECRET).mint(
        sub="u-alice",
        name="Alice",
        rooms=["lobby"],
        ttl_seconds=60,
        now=datetime.now(UTC) - timedelta(minutes=2),
    )
    forged = TokenSigner("another-secret-0123456789abcdef0123456789abc").mint(
        sub="u-alice", name="Alice", rooms=["lobby"]
    )

    # When the authorizer sees them (and no token at all)
    decisions = [authorize(token) for token in (expired, forged, "")]

    # Then every one is denied
    assert [d["policyDocument"]["Statement"][0]["Effect"] for d in decisions] == ["Deny"] * 3
    assert all("context" not in d for d in decisions)


def test_bad_frames_get_error_frames_and_the_connection_lives_on(chat: None) -> None:
    # Given a connected user in the lobby
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    alice.send({"action": "join", "room": "lobby"})
    alice.frames()

    # When she sends malformed JSON, an unknown action, an oversize frame and wrong types
    alice.send('{"action": "send", ', route="$default")
    alice.send({"action": "dance", "room": "lobby"})
    alice.send(
        {"action": "send", "room": "lobby", "text": "x" * 20_000, "client_msg_id": "a-1"},
        route="send",
    )
    alice.send({"action": "send", "room": "lobby", "text": 5, "client_msg_id": "a-2"})
    # And then a good ping
    alice.send({"action": "ping"})

    # Then each bad frame got an error with its code, and the ping still got a pong
    frames = alice.frames()
    assert [(f["type"], f.get("code")) for f in frames] == [
        ("error", "malformed_json"),
        ("error", "unknown_action"),
        ("error", "oversize"),
        ("error", "invalid_frame"),
        ("pong", None),
    ]
    assert frames[1]["valid_actions"] == ["join", "leave", "send", "history", "ping"]
    assert "text" in frames[3]["reason"]


def test_a_retried_client_msg_id_is_delivered_once(chat: None) -> None:
    # Given Alice and Bob in the lobby
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    bob = connect_user("bob1", "u-bob", "Bob", ["lobby"])
    for client in (alice, bob):
        client.send({"action": "join", "room": "lobby"})
    alice.frames(), bob.frames()
    frame = {"action": "send", "room": "lobby", "text": "once", "client_msg_id": "a-42"}

    # When Alice's client sends the same message twice (a retry after a timeout)
    alice.send(frame)
    alice.send(frame)

    # Then Bob got it once, and Alice two acks with the same message id, the second a duplicate
    assert [f["text"] for f in bob.frames()] == ["once"]
    acks = alice.frames()
    assert [a["duplicate"] for a in acks] == [False, True]
    assert acks[0]["message_id"] == acks[1]["message_id"]


def test_history_pages_are_complete_and_ordered_across_redis_and_dynamodb(chat: None) -> None:
    # Given 12 messages in the lobby (Redis keeps the newest 5, DynamoDB all of them)
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    alice.send({"action": "join", "room": "lobby"})
    for n in range(12):
        alice.send(
            {"action": "send", "room": "lobby", "text": f"m{n:02d}", "client_msg_id": f"a-{n}"}
        )
    alice.frames()

    # When she pages back five at a time
    pages, cursor = [], None
    for _ in range(5):
        request: dict[str, Any] = {"action": "history", "room": "lobby", "limit": 5}
        if cursor:
            request["cursor"] = cursor
        alice.send(request)
        (page,) = alice.frames()
        pages.append([m["text"] for m in page["messages"]])
        cursor = page.get("next_cursor")
        if cursor is None:
            break

    # Then the pages hold every message once, newest page first, oldest first within a page
    assert pages[0] == ["m07", "m08", "m09", "m10", "m11"]
    assert [text for page in reversed(pages) for text in page] == [f"m{n:02d}" for n in range(12)]


def gone_connection(connection_id: str) -> Stubber:
    """A stubbed @connections client (`.client`) whose post to `connection_id` answers 410 Gone
    (moto cannot; botocore's Stubber can)."""
    client = boto3.client(
        "apigatewaymanagementapi", endpoint_url=CHAT_API_ENDPOINT, region_name=REGION
    )
    stubber = Stubber(client)
    stubber.add_client_error(
        "post_to_connection",
        service_error_code="GoneException",
        http_status_code=410,
        expected_params={"ConnectionId": connection_id, "Data": ANY},
    )
    stubber.activate()
    return stubber


def test_a_stale_connection_is_pruned_on_the_first_failed_post(chat: None) -> None:
    # Given Alice and a stale connection (its client vanished without a $disconnect) in the lobby
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    ghost = connect_user("ghost1", "u-ghost", "Ghost", ["lobby"])
    for client in (alice, ghost):
        client.send({"action": "join", "room": "lobby"})
    alice.frames()
    # And @connections answering 410 Gone for the ghost
    stubber = gone_connection("ghost1")
    live = wiring.poster(CHAT_API_ENDPOINT)
    routed = RoutedPoster(live, {"ghost1": ApiGatewayPoster(stubber.client)})
    channel = wiring.build_channel(get_settings(), routed)

    # When Alice sends to the lobby
    channel.handle("alice1", SendFrame(room="lobby", text="anyone?", client_msg_id="a-1"))

    # Then the ghost was posted to once, pruned from Redis and the table, and not posted again
    stubber.assert_no_pending_responses()
    assert channel.counts["ConnectionsPruned"] == 1
    assert "ghost1" not in channel._rooms.members("lobby")
    table = boto3.resource("dynamodb", region_name=REGION).Table("ChatConnections")
    assert "Item" not in table.get_item(Key={"connection_id": "ghost1"})
    channel.handle("alice1", SendFrame(room="lobby", text="again", client_msg_id="a-2"))
    assert channel.counts["ConnectionsPruned"] == 1


def test_a_connection_redis_lost_is_still_known_from_the_table(chat: None, redis_url: str) -> None:
    # Given Alice connected, and then Redis lost everything (eviction, failover)
    import redis

    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    redis.Redis.from_url(redis_url).flushdb()

    # When she joins the lobby
    alice.send({"action": "join", "room": "lobby"})

    # Then her session came from the table: the join is answered, not refused
    assert [frame["type"] for frame in alice.frames()] == ["presence"]

    # When Redis loses her again and she disconnects
    redis.Redis.from_url(redis_url).flushdb()
    event = copy.deepcopy(load_event("chat/disconnect.json"))
    event["requestContext"]["connectionId"] = "alice1"
    assert disconnect.handler(event, CONTEXT) == {"statusCode": 200}

    # Then the table forgets her too
    table = boto3.resource("dynamodb", region_name=REGION).Table("ChatConnections")
    assert "Item" not in table.get_item(Key={"connection_id": "alice1"})


def test_disconnect_and_sweep_forget_connections(chat: None) -> None:
    # Given Alice and Bob in the lobby
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    bob = connect_user("bob1", "u-bob", "Bob", ["lobby"])
    for client in (alice, bob):
        client.send({"action": "join", "room": "lobby"})
    alice.frames()

    # When Bob disconnects
    event = copy.deepcopy(load_event("chat/disconnect.json"))
    event["requestContext"]["connectionId"] = "bob1"
    assert disconnect.handler(event, CONTEXT) == {"statusCode": 200}

    # Then Alice hears that he left and he is gone from the room and the table
    assert alice.frames() == [
        {"type": "left", "room": "lobby", "member": {"sub": "u-bob", "name": "Bob"}}
    ]
    table = boto3.resource("dynamodb", region_name=REGION).Table("ChatConnections")
    assert "Item" not in table.get_item(Key={"connection_id": "bob1"})

    # When Alice's connection outlives its expiry without a $disconnect and the sweep runs
    sweeper = wiring.sweeper()
    sweeper._clock = lambda: datetime.now(UTC) + timedelta(hours=4)
    result = sweep.handler(load_event("chat/sweep.json"), CONTEXT)

    # Then she is swept from Redis and the table
    assert result == {"swept": 1}
    assert sweeper._rooms.members("lobby") == []
    assert "Item" not in table.get_item(Key={"connection_id": "alice1"})


def test_a_history_page_never_exceeds_one_websocket_message(chat: None) -> None:
    # Given 100 messages of 2,000 multi-byte characters (about 600 KB in all)
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    alice.send({"action": "join", "room": "lobby"})
    for n in range(100):
        text = f"{n:03d}" + "가" * 1997
        alice.send({"action": "send", "room": "lobby", "text": text, "client_msg_id": f"a-{n}"})
    assert [f["type"] for f in alice.frames()] == ["presence"] + ["ack"] * 100

    # When she asks for a page of 100, then follows the cursors to the start
    seen: list[str] = []
    cursor: str | None = None
    while True:
        request: dict[str, Any] = {"action": "history", "room": "lobby", "limit": 100}
        if cursor:
            request["cursor"] = cursor
        alice.send(request)
        backend = apigatewaymanagementapi_backends[ACCOUNT][REGION]
        raw = backend.connections["alice1"].data
        (page,) = alice.frames()
        # Then every page fits in one 128 KB WebSocket message
        assert len(raw) <= 128 * 1024
        seen = [m["text"][:3] for m in page["messages"]] + seen
        cursor = page.get("next_cursor")
        if cursor is None:
            break

    # And together the pages still hold all 100, in order
    assert seen == [f"{n:03d}" for n in range(100)]


def test_sending_faster_than_the_limit_gets_rate_limited_errors(
    chat: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a limit of 2 messages a second with a burst of 3
    monkeypatch.setenv("CHAT_SEND_RATE_PER_SECOND", "2")
    monkeypatch.setenv("CHAT_SEND_BURST", "3")
    get_settings.cache_clear()
    wiring.chat_channel.cache_clear()
    alice = connect_user("alice1", "u-alice", "Alice", ["lobby"])
    alice.send({"action": "join", "room": "lobby"})
    alice.frames()

    # When she sends 6 messages at once
    for n in range(6):
        alice.send({"action": "send", "room": "lobby", "text": "spam", "client_msg_id": f"s-{n}"})

    # Then the burst goes through and the rest are refused as rate_limited
    frames = alice.frames()
    assert [f.get("code", f["type"]) for f in frames] == ["ack"] * 3 + ["rate_limited"] * 3


def test_a_bad_frame_from_a_client_that_has_gone_is_not_a_handler_error(
    chat: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a client whose connection API Gateway reports gone (410) when the error frame is posted
    class GonePoster:
        def __init__(self) -> None:
            self.posts: list[str] = []

        def post(self, connection_id: str, data: bytes) -> None:
            self.posts.append(connection_id)
            raise GoneConnection(connection_id)

    gone = GonePoster()
    monkeypatch.setattr(default, "poster_for", lambda request_context: gone)
    event = copy.deepcopy(load_event("chat/default-unknown-action.json"))

    # When its unknown frame reaches $default
    result = default.handler(event, CONTEXT)

    # Then the error frame was attempted once and the invocation still succeeds
    assert gone.posts == [event["requestContext"]["connectionId"]]
    assert result == {"statusCode": 200}
