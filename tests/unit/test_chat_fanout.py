"""Fan-out to many connections: bounded workers, throttling retries, 410 Gone collected."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from botocore.stub import ANY, Stubber

from courier.chat.fanout import (
    ApiGatewayPoster,
    Fanout,
    GoneConnection,
    PostThrottled,
)

ENDPOINT = "https://a1b2c3d4e5.execute-api.ap-northeast-2.amazonaws.com/live"

pytestmark = pytest.mark.usefixtures("aws_env")


class ScriptedPoster:
    """Answers per connection from a script: 'ok', 'gone', 'throttle:N' (N throttles, then ok)."""

    def __init__(self, script: dict[str, str], delay: float = 0.0) -> None:
        self.script = script
        self.delay = delay
        self.calls: dict[str, int] = {}
        self.in_flight = 0
        self.peak = 0
        self.lock = threading.Lock()

    def post(self, connection_id: str, data: bytes) -> None:
        with self.lock:
            self.calls[connection_id] = self.calls.get(connection_id, 0) + 1
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            calls = self.calls[connection_id]
        try:
            time.sleep(self.delay)
            rule = self.script.get(connection_id, "ok")
            if rule == "gone":
                raise GoneConnection(connection_id)
            if rule.startswith("throttle:") and calls <= int(rule.split(":")[1]):
                raise PostThrottled(connection_id)
        finally:
            with self.lock:
                self.in_flight -= 1


def test_results_sort_delivered_gone_and_failed() -> None:
    # Given connections that work, one gone, one throttled twice, one throttled for good
    poster = ScriptedPoster({"g": "gone", "t2": "throttle:2", "t9": "throttle:9"})
    fanout = Fanout(poster, workers=4, max_attempts=4, sleep=lambda _: None)

    # When one frame goes to all of them
    result = fanout.send(["a", "b", "g", "t2", "t9"], b"{}")

    # Then throttled posts were retried, the gone one is reported once, the hopeless one failed
    assert (result.delivered, result.gone, result.failed) == (3, ["g"], ["t9"])
    assert poster.calls == {"a": 1, "b": 1, "g": 1, "t2": 3, "t9": 4}


def test_workers_are_bounded_and_posts_overlap() -> None:
    # Given 40 connections behind a 20 ms @connections latency and 8 workers
    poster = ScriptedPoster({}, delay=0.02)
    fanout = Fanout(poster, workers=8)

    # When a frame goes to all of them
    started = time.perf_counter()
    result = fanout.send([f"c{i}" for i in range(40)], b"{}")
    elapsed = time.perf_counter() - started

    # Then never more than 8 posts were in flight, and they overlapped (not 40 x 20 ms)
    assert result.delivered == 40
    assert poster.peak == 8
    assert elapsed < 40 * 0.02 / 2


@pytest.mark.parametrize(
    ("code", "status", "raised"),
    [("GoneException", 410, GoneConnection), ("LimitExceededException", 429, PostThrottled)],
)
def test_the_adapter_maps_the_real_api_errors(
    code: str, status: int, raised: type[Exception]
) -> None:
    # Given the real management API client answering with a modeled error
    client = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT)
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "post_to_connection",
            service_error_code=code,
            http_status_code=status,
            expected_params={"ConnectionId": "c1", "Data": ANY},
        )

        # When a frame is posted, Then our own error type comes out
        with pytest.raises(raised):
            ApiGatewayPoster(client).post("c1", b"{}")


def test_other_api_errors_are_failures_not_prunes() -> None:
    # Given a forbidden post (a permissions problem, not a gone client)
    client = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT)
    with Stubber(client) as stubber:
        stubber.add_client_error(
            "post_to_connection", service_error_code="ForbiddenException", http_status_code=403
        )
        fanout = Fanout(ApiGatewayPoster(client), workers=1)

        # When it is fanned out, Then it counts as failed and nothing is pruned
        result = fanout.send(["c1"], b"{}")
    assert (result.delivered, result.gone, result.failed) == (0, [], ["c1"])
