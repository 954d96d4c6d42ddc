"""The smoke check's logic without a stack: endpoints, the stack read, each check's verdicts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scripts import smoke
from scripts.smoke import CheckResult, Endpoints, SmokeContext, Stack

AWS_OUTPUTS = {
    "CloudFrontApiUrl": "https://d111.cloudfront.net/api",
    "ApiUrl": "https://abc.execute-api.ap-northeast-2.amazonaws.com",
    "WebSocketUrl": "wss://d111.cloudfront.net/ws",
    "HttpApiId": "abc",
    "ChatApiId": "ws1",
    "ChatStageName": "live",
    "ChatTokenSecretArn": "arn:aws:secretsmanager:ap-northeast-2:1:secret:ChatTokenSecret-x",
}


class ScriptedContext(SmokeContext):
    """A context whose HTTP answers come from a script, one per request, in order."""

    def __init__(self, parameters: dict[str, str], answers: list[tuple[int, Any]]) -> None:
        stack = Stack("courier-dev", "ap-northeast-2", AWS_OUTPUTS, parameters)
        super().__init__(None, stack, Endpoints.of(AWS_OUTPUTS, None), None)
        self._answers: Iterator[tuple[int, Any]] = iter(answers)
        self.requests: list[tuple[str, str, bool]] = []

    def http(
        self, method: str, url: str, *, body: Any = None, sign: bool = False
    ) -> tuple[int, Any]:
        self.requests.append((method, url, sign))
        return next(self._answers)


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smoke.time, "sleep", lambda seconds: None)


def test_on_aws_the_unsigned_routes_and_the_websocket_go_through_cloudfront() -> None:
    endpoints = Endpoints.of(AWS_OUTPUTS, None)
    assert endpoints.public_api == "https://d111.cloudfront.net/api"
    assert endpoints.signed_api == "https://abc.execute-api.ap-northeast-2.amazonaws.com/api"
    assert endpoints.websocket == "wss://d111.cloudfront.net/ws"


def test_on_the_emulator_every_route_uses_its_execute_api_paths() -> None:
    endpoints = Endpoints.of(AWS_OUTPUTS, "http://127.0.0.1:4566")
    assert endpoints.public_api == "http://127.0.0.1:4566/_aws/execute-api/abc/api"
    assert endpoints.signed_api == endpoints.public_api
    assert endpoints.websocket == "ws://127.0.0.1:4566/_aws/execute-api/ws1/live"


def test_samconfig_environments_name_the_stack_and_region() -> None:
    assert smoke.samconfig_stack("dev") == ("courier-dev", "ap-northeast-2")
    assert smoke.samconfig_stack("local") == ("courier-local", "ap-northeast-2")
    with pytest.raises(SystemExit, match="no environment 'qa'"):
        smoke.samconfig_stack("qa")


class FakeCloudFormation:
    def __init__(self, status: str) -> None:
        self.status = status

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        return {
            "Stacks": [
                {
                    "StackStatus": self.status,
                    "Outputs": [{"OutputKey": "ApiUrl", "OutputValue": "https://x"}],
                    "Parameters": [{"ParameterKey": "SmsProvider", "ParameterValue": "sandbox"}],
                }
            ]
        }


def test_a_deployed_stack_is_read_and_a_rolled_back_one_refused() -> None:
    stack = smoke.read_stack(FakeCloudFormation("UPDATE_COMPLETE"), "courier-dev", "r")
    assert stack.outputs == {"ApiUrl": "https://x"}
    assert stack.parameters == {"SmsProvider": "sandbox"}
    with pytest.raises(SystemExit, match="UPDATE_ROLLBACK_COMPLETE"):
        smoke.read_stack(FakeCloudFormation("UPDATE_ROLLBACK_COMPLETE"), "courier-dev", "r")


def test_sms_is_skipped_with_a_real_provider_and_no_test_number() -> None:
    ctx = ScriptedContext({"SmsProvider": "end-user-messaging"}, [])
    result = smoke.check_sms(ctx, None)
    assert result.status == "skipped"
    assert "SMOKE_SMS_TO" in result.detail
    assert ctx.requests == []


def test_sms_with_the_sandbox_is_sent_signed_and_polled_until_sent() -> None:
    # Given a sandbox stack that accepts the job, then knows nothing yet, then reports SENT
    ctx = ScriptedContext(
        {"SmsProvider": "sandbox"},
        [
            (202, {"jobs": 1, "queued": 1}),
            (404, {"code": "job_not_found"}),
            (200, {"status": "SENT", "to_masked": "+82101234****"}),
        ],
    )
    # When the SMS check runs
    result = smoke.check_sms(ctx, None)
    # Then it passes, every request was SigV4-signed on the API's own URL
    assert result.status == "ok", result.detail
    assert result.data == {"job_id": f"smoke-{ctx.run_id}", "priority": "transactional"}
    assert [(m, sign) for m, _, sign in ctx.requests] == [
        ("POST", True),
        ("GET", True),
        ("GET", True),
    ]
    assert all(url.startswith(AWS_OUTPUTS["ApiUrl"] + "/api/sms") for _, url, _ in ctx.requests)


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ([(403, {"message": "Forbidden"})], "POST /api/sms answered 403"),
        ([(202, {}), (200, {"status": "FAILED", "reason": "OPTED_OUT"})], "FAILED: OPTED_OUT"),
        ([(202, {}), (500, {"code": "internal_error"})], "answered 500"),
    ],
)
def test_sms_fails_when_the_job_is_refused_or_fails(
    answers: list[tuple[int, Any]], expected: str
) -> None:
    ctx = ScriptedContext({"SmsProvider": "sandbox"}, answers)
    result = smoke.check_sms(ctx, None)
    assert result.status == "failed"
    assert expected in result.detail


def test_a_configured_test_number_is_sent_even_with_a_real_provider() -> None:
    ctx = ScriptedContext(
        {"SmsProvider": "end-user-messaging"}, [(202, {}), (200, {"status": "SENT"})]
    )
    assert smoke.check_sms(ctx, "+821011112222").status == "ok"


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ((200, {"date": "DAY", "sms": {"jobs": 3}}), "ok"),
        ((404, {"code": "stats_not_found"}), "ok"),
        ((404, {"code": "not_found", "message": "no such route"}), "failed"),
        ((403, {"code": "origin_not_allowed"}), "failed"),
        ((502, "Bad Gateway"), "failed"),
    ],
)
def test_stats_accepts_the_days_numbers_or_not_reported_yet_only(
    answer: tuple[int, Any], status: str
) -> None:
    ctx = ScriptedContext({}, [])
    day = (smoke.datetime.now(smoke.SEOUL).date() - smoke.timedelta(days=1)).isoformat()
    code, body = answer
    if isinstance(body, dict) and body.get("date") == "DAY":
        body = {**body, "date": day}
    ctx._answers = iter([(code, body)])
    result = smoke.check_stats(ctx)
    assert result.status == status, result.detail
    assert ctx.requests == [("GET", f"https://d111.cloudfront.net/api/stats/{day}", False)]


def test_a_check_that_raises_fails_alone_and_the_others_still_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a chat check that blows up
    def broken_chat(ctx: SmokeContext) -> CheckResult:
        raise TimeoutError("listener: no matching frame in 30s")

    monkeypatch.setattr(smoke, "check_chat", broken_chat)
    ctx = ScriptedContext(
        {"SmsProvider": "end-user-messaging"}, [(404, {"code": "stats_not_found"})]
    )
    # When every check runs
    results = smoke.run_checks(ctx, None)
    # Then chat failed with the reason, and sms and stats were still run
    assert [(r.check, r.status) for r in results] == [
        ("sms", "skipped"),
        ("chat", "failed"),
        ("stats", "ok"),
    ]
    assert "TimeoutError: listener" in results[1].detail
