"""Fan-out to many connections: bounded workers, throttling retries, 410 Gone collected."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
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


class CountingLimiter:
    """A rate limiter that grants at once and counts what it was asked for."""

    def __init__(self) -> None:
        self.tokens = 0
        self.lock = threading.Lock()

    def acquire(self, tokens: int) -> float:
        with self.lock:
            self.tokens += tokens
        return 0.0


def test_every_attempt_waits_for_the_rate_limiter() -> None:
    # Given a paced fan-out and connections that work, one gone, one throttled twice
    poster = ScriptedPoster({"g": "gone", "t2": "throttle:2"})
    limiter = CountingLimiter()
    fanout = Fanout(poster, workers=4, rate_limiter=limiter, sleep=lambda _: None)

    # When one frame goes to all of them
    result = fanout.send(["a", "g", "t2"], b"{}")

    # Then each post, retries included, took one token first: 1 + 1 + 3 attempts
    assert (result.delivered, result.gone) == (2, ["g"])
    assert limiter.tokens == sum(poster.calls.values()) == 5


def test_the_rate_cap_spreads_the_posts_over_time() -> None:
    # Given a fan-out capped at 200 posts/s (a burst of 2) in front of an instant poster
    from courier.rate_limit import LocalRateLimiter

    poster = ScriptedPoster({})
    fanout = Fanout(poster, workers=8, rate_limiter=LocalRateLimiter(rate=200, burst=2))

    # When a frame goes to 40 connections
    started = time.perf_counter()
    result = fanout.send([f"c{i}" for i in range(40)], b"{}")
    elapsed = time.perf_counter() - started

    # Then they were all delivered, no faster than the cap allows (38 paced posts at 5 ms)
    assert result.delivered == 40
    assert elapsed >= 38 / 200 * 0.9


def test_the_channel_paces_its_fanout_from_settings() -> None:
    # Given the default settings, then the cap switched off
    from courier.chat.wiring import fanout_limiter
    from courier.rate_limit import LocalRateLimiter
    from courier.settings import Settings

    paced = fanout_limiter(Settings())
    unpaced = fanout_limiter(Settings(chat_fanout_max_rate=0))

    # Then the default paces at CHAT_FANOUT_MAX_RATE, and 0 means no limiter at all
    assert isinstance(paced, LocalRateLimiter)
    assert paced._interval == pytest.approx(1 / Settings().chat_fanout_max_rate)
    assert unpaced is None


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


def test_a_forbidden_answer_to_every_post_prunes_nothing() -> None:
    # Given @connections answering 403 to every post (a wrong endpoint or missing permission)
    client = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT)
    with Stubber(client) as stubber:
        for _ in range(2):
            stubber.add_client_error(
                "post_to_connection", service_error_code="ForbiddenException", http_status_code=403
            )
        fanout = Fanout(ApiGatewayPoster(client), workers=1)

        # When it is fanned out, Then both count as failed and nothing is pruned
        result = fanout.send(["c1", "c2"], b"{}")
    assert (result.delivered, result.gone, result.failed) == (0, [], ["c1", "c2"])


def _in_order(client: Any) -> Fanout:
    """One worker posts in the order of the targets (the order the Stubber answers in)."""
    return Fanout(ApiGatewayPoster(client), workers=1, sleep=lambda _: None)


def test_a_forbidden_connection_among_live_ones_is_pruned() -> None:
    # Given a room where one connection's id is no longer known to API Gateway (403)
    client = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT)
    with Stubber(client) as stubber:
        stubber.add_response("post_to_connection", {}, {"ConnectionId": "live", "Data": ANY})
        stubber.add_client_error(
            "post_to_connection",
            service_error_code="ForbiddenException",
            http_status_code=403,
            expected_params={"ConnectionId": "stale", "Data": ANY},
        )

        # When a frame goes to the room
        result = _in_order(client).send(["live", "stale"], b"{}")

        # Then the forbidden one is reported gone (pruned), after a single post
        stubber.assert_no_pending_responses()
    assert (result.delivered, result.gone, result.failed) == (1, ["stale"], [])


def test_server_errors_are_retried_once() -> None:
    # Given @connections answering 500 once for c1, and twice for c2
    client = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT)
    with Stubber(client) as stubber:
        for connection_id, answers in [("c1", [500, 200]), ("c2", [500, 503])]:
            for status in answers:
                params = {"ConnectionId": connection_id, "Data": ANY}
                if status == 200:
                    stubber.add_response("post_to_connection", {}, params)
                else:
                    stubber.add_client_error(
                        "post_to_connection",
                        service_error_code="InternalServerErrorException",
                        http_status_code=status,
                        expected_params=params,
                    )

        # When a frame goes to both
        result = _in_order(client).send(["c1", "c2"], b"{}")

        # Then each was posted twice: c1 got it on the retry, c2 failed after one retry
        stubber.assert_no_pending_responses()
    assert (result.delivered, result.gone, result.failed) == (1, [], ["c2"])


def test_a_timed_out_post_is_retried_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given @connections timing out once for c1 and every time for c2
    client = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT)
    calls: list[str] = []

    def post_to_connection(ConnectionId: str, Data: bytes) -> dict[str, Any]:
        calls.append(ConnectionId)
        if ConnectionId == "c2" or calls.count(ConnectionId) == 1:
            raise ReadTimeoutError(endpoint_url=ENDPOINT)
        return {}

    monkeypatch.setattr(client, "post_to_connection", post_to_connection)

    # When a frame goes to both
    result = _in_order(client).send(["c1", "c2"], b"{}")

    # Then each was tried twice: c1 delivered on the retry, c2 failed
    assert calls == ["c1", "c1", "c2", "c2"]
    assert (result.delivered, result.gone, result.failed) == (1, [], ["c2"])


def test_failures_are_logged_by_connection_and_error_code_never_the_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a room with a live connection, a gone one and one the API refuses (400)
    from courier.observability import logger

    logged: list[tuple[str, str, dict[str, Any]]] = []
    for level in ("info", "warning"):
        monkeypatch.setattr(
            logger,
            level,
            lambda msg, *a, level=level, **kw: logged.append((level, msg, kw.get("extra", {}))),
        )
    client = boto3.client("apigatewaymanagementapi", endpoint_url=ENDPOINT)
    with Stubber(client) as stubber:
        stubber.add_response("post_to_connection", {}, {"ConnectionId": "ok", "Data": ANY})
        stubber.add_client_error(
            "post_to_connection", service_error_code="GoneException", http_status_code=410
        )
        stubber.add_client_error(
            "post_to_connection", service_error_code="BadRequestException", http_status_code=400
        )

        # When a frame with a message text goes to the room
        frame = b'{"type":"message","text":"the secret plan"}'
        result = _in_order(client).send(["ok", "gone", "bad"], frame)

    # Then the gone and the failed connection are logged with their codes, and no text is
    assert (result.delivered, result.gone, result.failed) == (1, ["gone"], ["bad"])
    assert (
        "info",
        "chat connections gone",
        {"gone": 1, "connections": {"gone": "GoneException"}},
    ) in logged
    assert (
        "warning",
        "chat posts failed",
        {"failed": 1, "connections": {"bad": "BadRequestException"}},
    ) in logged
    assert "secret plan" not in repr(logged)
