"""Every Redis command chat sends keeps its keys in one hash slot, as ElastiCache Serverless
(cluster mode) requires: RoomState's docstring claim, checked command by command.

The session's redis-server runs in cluster mode (local/redis_server.py), so it refuses a
cross-slot command outright; on top of that, every command the handlers send is recorded and
its keys (as the server names them, `COMMAND GETKEYS`) are hashed with redis-py's `key_slot`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from redis.client import Pipeline
from redis.crc import key_slot

import disconnect
import sweep
from courier.chat import wiring
from courier.chat.fanout import ApiGatewayPoster
from courier.chat.frames import SendFrame
from courier.settings import get_settings
from local.redis_server import CLUSTER_BUS_OFFSET, free_port
from tests.harness import FakeLambdaContext, load_event
from tests.integration.conftest import CHAT_API_ENDPOINT
from tests.integration.test_chat_channel import RoutedPoster, connect_user, gone_connection

CONTEXT = FakeLambdaContext()
Command = tuple[Any, ...]


@contextmanager
def recorded_commands() -> Iterator[list[list[Command]]]:
    """Every command any redis.Redis client sends meanwhile, grouped as the server runs them:
    one command alone, or a whole MULTI/EXEC pipeline (whose keys must share a slot too)."""
    units: list[list[Command]] = []
    execute_command = redis.Redis.execute_command
    execute_pipeline = Pipeline.execute

    def record_command(self: redis.Redis, *args: Any, **options: Any) -> Any:
        units.append([args])
        return execute_command(self, *args, **options)

    def record_pipeline(self: Pipeline, raise_on_error: bool = True) -> Any:
        commands = [args for args, _ in self.command_stack]
        units.extend([commands] if self.transaction else [[args] for args in commands])
        return execute_pipeline(self, raise_on_error)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis.Redis, "execute_command", record_command)
        patch.setattr(Pipeline, "execute", record_pipeline)
        yield units


def command_name(args: Command) -> str:
    return str(args[0]).upper()


def keys_of(client: redis.Redis, args: Command) -> list[bytes]:
    """The command's keys as the server reads them (redis-py sends "SCRIPT LOAD" as two words)."""
    words = [*str(args[0]).split(), *args[1:]]
    try:
        keys = client.command_getkeys(*words)
    except redis.ResponseError as error:
        if "no key arguments" in str(error):
            return []
        raise
    return [key.encode() if isinstance(key, str) else bytes(key) for key in keys]


def test_the_test_redis_is_a_cluster_node_that_refuses_cross_slot_commands(
    redis_url: str,
) -> None:
    # Given the redis-server every test uses
    client = redis.Redis.from_url(redis_url)

    # Then it is a cluster-mode node serving all 16384 slots
    info = client.cluster("INFO")
    assert (info["cluster_state"], info["cluster_slots_assigned"]) == ("ok", "16384")
    # And, as ElastiCache Serverless, it refuses one command over two slots: a connection's two
    # keys, which RoomState therefore never names in one command
    assert key_slot(b"chat:conn:ghost1") != key_slot(b"chat:conn:ghost1:rooms")
    with pytest.raises(redis.exceptions.ClusterCrossSlotError):
        client.delete("chat:conn:ghost1:rooms", "chat:conn:ghost1")


def test_free_ports_leave_room_for_the_cluster_bus() -> None:
    for _ in range(20):
        port = free_port()
        assert port + CLUSTER_BUS_OFFSET <= 65_535


def test_every_command_chat_sends_keeps_its_keys_in_one_slot(chat: None, redis_url: str) -> None:
    # Given chat handlers whose Redis commands are all recorded
    with recorded_commands() as units:
        # When users connect, join, send (and retry), page history, leave and join again
        alice = connect_user("alice1", "u-alice", "Alice", ["lobby", "team-*"])
        bob = connect_user("bob1", "u-bob", "Bob", ["lobby"])
        ghost = connect_user("ghost1", "u-ghost", "Ghost", ["lobby"])
        for client in (alice, bob, ghost):
            client.send({"action": "join", "room": "lobby"})
        alice.send({"action": "join", "room": "team-a"})
        frame = {"action": "send", "room": "lobby", "text": "hi", "client_msg_id": "a-1"}
        alice.send(frame)
        alice.send(frame)
        alice.send({"action": "history", "room": "lobby", "limit": 10})
        alice.send({"action": "leave", "room": "team-a"})
        alice.send({"action": "ping"})
        # And a post to the ghost answers 410 Gone, so it is pruned
        routed = RoutedPoster(
            wiring.poster(CHAT_API_ENDPOINT),
            {"ghost1": ApiGatewayPoster(gone_connection("ghost1").client)},
        )
        channel = wiring.build_channel(get_settings(), routed)
        channel.handle("alice1", SendFrame(room="lobby", text="anyone?", client_msg_id="a-2"))
        # And a claim is released, a room's recent history counted and dropped (HTTP API, CLI)
        channel._rooms.release_client_message("u-alice", "a-3", "m-3")
        assert channel._rooms.recent_count("lobby") == 2
        channel._rooms.forget_recent("lobby")
        # And Bob disconnects, and Alice is swept when her connection expires
        event = copy.deepcopy(load_event("chat/disconnect.json"))
        event["requestContext"]["connectionId"] = "bob1"
        assert disconnect.handler(event, CONTEXT) == {"statusCode": 200}
        sweeper = wiring.sweeper()
        sweeper._clock = lambda: datetime.now(UTC) + timedelta(hours=4)
        assert sweep.handler(load_event("chat/sweep.json"), CONTEXT) == {"swept": 1}
    assert channel.counts["ConnectionsPruned"] == 1

    # Then each command (and each transaction, of which there are none) names one slot's keys
    client = redis.Redis.from_url(redis_url)
    spanning = []
    for unit in units:
        keys = [key for args in unit for key in keys_of(client, args)]
        if len({key_slot(key) for key in keys}) > 1:
            spanning.append(([command_name(args) for args in unit], keys))
    assert spanning == []
    assert all(len(unit) == 1 for unit in units)
    # And the recording saw every kind of command RoomState and the send limiter issue
    assert {command_name(args) for unit in units for args in unit} >= {
        "HSET", "EXPIREAT", "ZADD", "HGETALL", "SADD", "SREM", "SMEMBERS", "SISMEMBER", "DEL",
        "ZREM", "ZRANGEBYSCORE", "LPUSH", "LTRIM", "LRANGE", "LLEN", "SET", "GET", "EVAL",
        "EVALSHA",
    }  # fmt: skip
