"""Posting to WebSocket connections: the @connections adapter and concurrent, bounded fan-out."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Protocol

from courier.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

    from courier.rate_limit import RateLimiter

FORBIDDEN = "ForbiddenException"
LOGGED_CONNECTIONS = 100  # connection ids per log line: a 10,000-member room stays one line


class GoneConnection(Exception):
    """The client is gone (410 Gone, or 403 Forbidden for its id): the connection must be pruned."""

    def __init__(self, connection_id: str, code: str = "GoneException") -> None:
        super().__init__(connection_id, code)
        self.code = code


class PostThrottled(Exception):
    """API Gateway's management API refused for rate (LimitExceededException): back off."""


class PostFailed(Exception):
    """Any other failed post, by its error code; `retryable` for 5xx answers and timeouts."""

    def __init__(self, connection_id: str, code: str, *, retryable: bool) -> None:
        super().__init__(connection_id, code)
        self.code = code
        self.retryable = retryable


class ConnectionPoster(Protocol):
    def post(self, connection_id: str, data: bytes) -> None:
        """Send one frame; raise GoneConnection, PostThrottled or PostFailed (or any error)."""
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
        from botocore.exceptions import ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as BotocoreConnectionError

        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        # The modeled exceptions first: both are ClientError subclasses.
        except self._client.exceptions.GoneException as error:
            raise GoneConnection(connection_id) from error
        except self._client.exceptions.LimitExceededException as error:
            raise PostThrottled(connection_id) from error
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", "ClientError"))
            if code == "GoneException":
                raise GoneConnection(connection_id) from error
            if code == FORBIDDEN:
                # What API Gateway answers for a connection id it no longer knows.
                raise GoneConnection(connection_id, FORBIDDEN) from error
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            raise PostFailed(connection_id, code, retryable=status >= 500) from error
        except (BotocoreConnectionError, HTTPClientError) as error:
            # Timeouts and dropped connections: the next attempt usually gets through.
            raise PostFailed(connection_id, type(error).__name__, retryable=True) from error


@dataclass
class FanoutResult:
    delivered: int = 0
    gone: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    """The error code of every gone or failed connection (ids and codes only, never the data)."""


class Fanout:
    """Posts one frame to many connections on a bounded pool; retries throttling with backoff,
    server errors and timeouts once. `rate_limiter` paces every attempt (retries included), so
    one invocation stays within its share of API Gateway's account-level request quota."""

    def __init__(
        self,
        poster: ConnectionPoster,
        *,
        workers: int,
        rate_limiter: RateLimiter | None = None,
        max_attempts: int = 4,
        base_delay: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._poster = poster
        self._limiter = rate_limiter
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fanout")
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._sleep = sleep

    def post_one(self, connection_id: str, data: bytes) -> tuple[str, str | None]:
        """`delivered`, `gone` or `failed` (after the retries ran out), with the error code."""
        throttled = 0
        retried_failure = False
        while True:
            try:
                if self._limiter is not None:
                    self._limiter.acquire(1)
                self._poster.post(connection_id, data)
                return "delivered", None
            except GoneConnection as gone:
                return "gone", gone.code
            except PostThrottled:
                throttled += 1
                if throttled == self._max_attempts:
                    return "failed", "LimitExceededException"
                # Full jitter: throttled posts from many workers must not retry in lockstep.
                self._sleep(random.uniform(0, self._base_delay * 2 ** (throttled - 1)))
            except PostFailed as failure:
                # One retry only: a second 5xx or timeout means the API is struggling, and the
                # room's other posts (and the sender's ack) should not wait behind this one.
                if not failure.retryable or retried_failure:
                    return "failed", failure.code
                retried_failure = True
                self._sleep(random.uniform(0, self._base_delay))
            except Exception as error:
                return "failed", type(error).__name__

    def send(self, connection_ids: Iterable[str], data: bytes) -> FanoutResult:
        targets = list(connection_ids)
        result = FanoutResult()
        if not targets:
            return result
        outcomes = self._pool.map(lambda cid: (cid, *self.post_one(cid, data)), targets)
        for connection_id, outcome, code in outcomes:
            if outcome == "delivered":
                result.delivered += 1
                continue
            result.errors[connection_id] = code or "unknown"
            if outcome == "gone":
                result.gone.append(connection_id)
            else:
                result.failed.append(connection_id)
        _spare_if_all_forbidden(result)
        _log(result)
        return result


def _spare_if_all_forbidden(result: FanoutResult) -> None:
    """403 for every target is the endpoint or the permissions, not the connections: pruning
    them all would empty live rooms, so they count as failed instead."""
    forbidden = [cid for cid in result.gone if result.errors[cid] == FORBIDDEN]
    if forbidden and not result.delivered and len(forbidden) == len(result.errors):
        result.gone = []
        result.failed.extend(forbidden)


def _log(result: FanoutResult) -> None:
    def sample(ids: list[str]) -> dict[str, str]:
        return {cid: result.errors[cid] for cid in islice(ids, LOGGED_CONNECTIONS)}

    if result.gone:
        logger.info(
            "chat connections gone",
            extra={"gone": len(result.gone), "connections": sample(result.gone)},
        )
    if result.failed:
        logger.warning(
            "chat posts failed",
            extra={"failed": len(result.failed), "connections": sample(result.failed)},
        )
