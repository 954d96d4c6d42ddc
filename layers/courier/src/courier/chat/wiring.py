"""Builds the chat channel and its adapters from settings, once per execution environment."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from courier.settings import Settings, get_settings

if TYPE_CHECKING:
    from courier.chat.channel import ChatChannel
    from courier.chat.fanout import ApiGatewayPoster, ConnectionPoster
    from courier.chat.message_store import MessageStore
    from courier.chat.presence import RoomState
    from courier.rate_limit import LocalRateLimiter


def connections_endpoint(settings: Settings, request_context: dict[str, Any]) -> str:
    """The @connections endpoint: configured (custom domain, CloudFront, emulator) or the API's.

    A configured endpoint may name `{apiId}` and `{stage}`, filled from the event: an emulator's
    endpoint embeds the API id, which is not known before the stack exists.
    """
    if settings.chat_connections_endpoint:
        return settings.chat_connections_endpoint.replace(
            "{apiId}", str(request_context.get("apiId", ""))
        ).replace("{stage}", str(request_context.get("stage", "")))
    return f"https://{request_context['domainName']}/{request_context['stage']}"


def fanout_limiter(settings: Settings) -> LocalRateLimiter | None:
    """This invocation's @connections pace (CHAT_FANOUT_MAX_RATE posts/s; 0: none).

    Per invocation, not shared through Redis: a Redis round trip per post would cost more than
    the post. The first wave of the pool goes at once (burst = the workers).
    """
    from courier.rate_limit import LocalRateLimiter

    if not settings.chat_fanout_max_rate:
        return None
    return LocalRateLimiter(
        rate=settings.chat_fanout_max_rate, burst=float(settings.chat_fanout_workers)
    )


def build_channel(settings: Settings, poster: ConnectionPoster) -> ChatChannel:
    from courier.chat.channel import ChatChannel
    from courier.chat.connection_store import ConnectionStore
    from courier.chat.fanout import Fanout
    from courier.chat.message_store import MessageStore
    from courier.chat.presence import RoomState
    from courier.rate_limit import RedisRateLimiter
    from courier.redis_connection import connect_redis

    redis = connect_redis(settings)

    def send_limiter(connection_id: str) -> RedisRateLimiter:
        return RedisRateLimiter(
            redis,
            key=f"chat:rate:{connection_id}",
            rate=settings.chat_send_rate_per_second,
            burst=settings.chat_send_burst,
            max_wait_seconds=0,  # refuse at once: a chat client should not hang on a send
        )

    return ChatChannel(
        rooms=RoomState(redis, recent_limit=settings.chat_history_recent),
        connections=ConnectionStore.from_settings(settings),
        messages=MessageStore.from_settings(settings),
        fanout=Fanout(
            poster,
            workers=settings.chat_fanout_workers,
            rate_limiter=fanout_limiter(settings),
        ),
        send_limiter=send_limiter,
        connection_ttl=timedelta(seconds=settings.chat_connection_ttl_seconds),
        client_msg_id_ttl_seconds=settings.chat_client_msg_id_ttl_seconds,
    )


def history_stores(settings: Settings) -> tuple[RoomState, MessageStore]:
    """Redis's recent history and the ChatMessages table, for tools that manage a room's history."""
    from courier.chat.message_store import MessageStore
    from courier.chat.presence import RoomState
    from courier.redis_connection import connect_redis

    rooms = RoomState(connect_redis(settings), recent_limit=settings.chat_history_recent)
    return rooms, MessageStore.from_settings(settings)


@cache
def poster(endpoint: str) -> ApiGatewayPoster:
    """The @connections client for an endpoint (one per execution environment)."""
    from courier.chat.fanout import ApiGatewayPoster

    return ApiGatewayPoster.for_endpoint(endpoint, pool_size=get_settings().chat_fanout_workers)


@cache
def chat_channel(endpoint: str) -> ChatChannel:
    """The channel for this execution environment and @connections endpoint."""
    return build_channel(get_settings(), poster(endpoint))


def sweeper() -> ChatChannel:
    """The channel the scheduled sweep uses: it posts nothing, so any endpoint serves."""
    return chat_channel(get_settings().chat_connections_endpoint or "https://execute-api.invalid")


def poster_for(request_context: dict[str, Any]) -> ApiGatewayPoster:
    return poster(connections_endpoint(get_settings(), request_context))


def channel_for(request_context: dict[str, Any]) -> ChatChannel:
    return chat_channel(connections_endpoint(get_settings(), request_context))


def publish_counts(channel: ChatChannel) -> None:
    """Hand the invocation's counts to Powertools Metrics (flushed by the handler decorator)."""
    from aws_lambda_powertools.metrics import MetricUnit

    from courier.observability import metrics

    for name, value in channel.counts.items():
        metrics.add_metric(name=f"Chat{name}", unit=MetricUnit.Count, value=value)
    channel.counts.clear()
