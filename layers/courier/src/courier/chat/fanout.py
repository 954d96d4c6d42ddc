"""Posting to WebSocket connections: the @connections adapter and concurrent, bounded fan-out."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient


class GoneConnection(Exception):
    """The client is gone (410): the connection must be pruned."""


class PostThrottled(Exception):
    """API Gateway's management API refused for rate (LimitExceededException): back off."""


class ConnectionPoster(Protocol):
    def post(self, connection_id: str, data: bytes) -> None:
        """Send one frame; raise GoneConnection or PostThrottled, or any other error."""
        ...


class ApiGatewayPoster:
    """`PostToConnection` on the API's @connections endpoint (which comes from configuration)."""

    def __init__(self, client: ApiGatewayManagementApiClient) -> None:
        self._client = client

    @classmethod
    def for_endpoint(cls, endpoint_url: str, *, pool_size: int) -> ApiGatewayPoster:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "apigatewaymanagementapi",
            endpoint_url=endpoint_url,
            config=Config(
                max_pool_connections=pool_size,  # one connection per fan-out worker
                retries={"mode": "standard", "total_max_attempts": 1},
                connect_timeout=2,
                read_timeout=5,
            ),
        )
        return cls(client)

    def post(self, connection_id: str, data: bytes) -> None:
        from botocore.exceptions import ClientError

        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        # The modeled exceptions first: both are ClientError subclasses.
        except self._client.exceptions.GoneException as error:
            raise GoneConnection(connection_id) from error
        except self._client.exceptions.LimitExceededException as error:
            raise PostThrottled(connection_id) from error
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "GoneException":
                raise GoneConnection(connection_id) from error
            raise


@dataclass
class FanoutResult:
    delivered: int = 0
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class Fanout:
    """Posts one frame to many connections on a bounded pool; retries throttling with backoff."""

    def __init__(
        self,
        poster: ConnectionPoster,
        *,
        workers: int,
        max_attempts: int = 4,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._poster = poster
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout")
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._sleep = sleep

    def post_one(self, connection_id: str, data: bytes) -> str:
        """`delivered`, `gone` or `failed` (after the throttling retries ran out)."""
        for attempt in range(self._max_attempts):
            try:
                self._poster.post(connection_id, data)
                return "delivered"
            except GoneConnection:
                return "gone"
            except PostThrottled:
                if attempt + 1 == self._max_attempts:
                    return "failed"
                # Full jitter: throttled posts from many workers must not retry in lockstep.
                self._sleep(random.uniform(0, self._base_delay * 2**attempt))
            except Exception:
                return "failed"
        return "failed"

    def send(self, connection_ids: Iterable[str], data: bytes) -> FanoutResult:
        targets = list(connection_ids)
        result = FanoutResult()
        if not targets:
            return result
        outcomes = self._pool.map(lambda cid: (cid, self.post_one(cid, data)), targets)
        for connection_id, outcome in outcomes:
            if outcome == "delivered":
                result.delivered += 1
            elif outcome == "gone":
                result.gone.append(connection_id)
            else:
                result.failed.append(connection_id)
        return result
