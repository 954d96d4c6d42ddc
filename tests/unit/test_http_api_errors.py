"""The HTTP API's pure pieces: per-job field errors, the origin and size checks."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from courier.http_api.errors import MAX_JOBS, ApiError, job_field_errors
from courier.http_api.origin import MAX_BODY_BYTES, body_size, check_request


def job(**extra: Any) -> dict[str, Any]:
    return {"job_id": "a-1", "to": "+821012345678", "body": "hi", **extra}


def test_valid_jobs_have_no_field_errors() -> None:
    assert job_field_errors(job()) == []
    assert job_field_errors([job(), job(job_id="a-2")]) == []


def test_field_errors_name_the_job_and_field_without_values() -> None:
    errors = job_field_errors([job(), job(job_id="a-2", to="010-1234", priority="urgent")])

    assert {(e.index, e.job_id, e.field) for e in errors} == {
        (1, "a-2", "to"),
        (1, "a-2", "priority"),
    }
    assert all("010-1234" not in e.message for e in errors)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ([], "too_short"),
        ([job()] * (MAX_JOBS + 1), "too_many_jobs"),
        ("text", "model_type"),
        ([1], "model_type"),
    ],
)
def test_bodies_that_are_not_jobs(data: Any, code: str) -> None:
    assert [e.code for e in job_field_errors(data)] == [code]


def test_error_bodies_leave_out_absent_fields() -> None:
    assert ApiError(404, "not_found", "no such route").body() == {
        "code": "not_found",
        "message": "no such route",
    }


def test_origin_header_must_match_when_a_secret_is_configured() -> None:
    event = {"headers": {"X-Origin-Verify": "s3cret"}}
    check_request(event, expected_secret="s3cret", verify_origin=True)
    check_request({"headers": {}}, expected_secret=None, verify_origin=False)  # check off
    for headers in ({}, {"x-origin-verify": "nope"}):
        with pytest.raises(ApiError) as refused:
            check_request({"headers": headers}, expected_secret="s3cret", verify_origin=True)
        assert (refused.value.status, refused.value.code) == (403, "origin_not_allowed")


def test_without_a_secret_the_origin_check_fails_closed() -> None:
    # Given no configured secret while verification is not switched off
    for headers in ({}, {"x-origin-verify": ""}, {"x-origin-verify": "anything"}):
        # When an unsigned request arrives, whatever it claims
        with pytest.raises(ApiError) as refused:
            check_request({"headers": headers}, expected_secret=None, verify_origin=True)
        # Then it is refused as if it had bypassed CloudFront
        assert (refused.value.status, refused.value.code) == (403, "origin_not_allowed")
    # And a SigV4-signed request (authorized by API Gateway) still passes
    signed = {"headers": {}, "requestContext": {"authorizer": {"iam": {"accountId": "1"}}}}
    check_request(signed, expected_secret=None, verify_origin=True)


def test_bodies_over_the_limit_are_refused_in_bytes_after_base64() -> None:
    raw = b"x" * (MAX_BODY_BYTES + 1)
    event = {"body": base64.b64encode(raw).decode(), "isBase64Encoded": True}
    assert body_size(event) == len(raw)
    with pytest.raises(ApiError) as refused:
        check_request(event, expected_secret=None, verify_origin=False)
    assert (refused.value.status, refused.value.code) == (413, "payload_too_large")
    check_request({"body": "é" * (MAX_BODY_BYTES // 2)}, expected_secret=None, verify_origin=False)
    with pytest.raises(ApiError):
        check_request(
            {"body": "é" * (MAX_BODY_BYTES // 2 + 1)}, expected_secret=None, verify_origin=False
        )


def test_each_answer_is_counted_by_its_status_class(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an app that answers 404, then one that answers without a status
    from courier.http_api import resolver

    counted: list[str] = []
    monkeypatch.setattr(
        resolver.metrics, "add_metric", lambda name, unit, value: counted.append(name)
    )

    class Answers:
        def __init__(self, response: dict[str, Any]) -> None:
            self.response = response

        def resolve(self, event: Any, context: Any) -> dict[str, Any]:
            return self.response

    # When both are resolved through the handlers' shared path
    first = resolver.resolve_and_count(Answers({"statusCode": 404}), {}, None)  # type: ignore[arg-type]
    resolver.resolve_and_count(Answers({}), {}, None)  # type: ignore[arg-type]

    # Then the answer is passed on and counted as 4xx, and a missing status as 5xx
    assert first == {"statusCode": 404}
    assert counted == ["ApiResponses4xx", "ApiResponses5xx"]
