"""The HTTP API in-process through its Lambda handler, against moto (and redis for history).

Every route's success and error cases: SMS submit (202, 422 with nothing queued, 413, 400),
job status (200, 404), daily stats (200, 404, 400), room history (200 paging through Redis and
DynamoDB, 401, 403, 400), the OpenAPI document, unknown routes (404), wrong methods (405) and
the CloudFront origin header (403).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import aggregate
import app as api_handler
import plan
import publish
import sender
from courier.chat.frames import Member, MessageEvent
from courier.chat.message_store import MessageStore, StoredMessage
from courier.chat.presence import RoomState
from courier.chat.tokens import TokenSigner
from courier.http_api import wiring
from courier.redis_connection import connect_redis
from courier.settings import get_settings
from tests.harness import ROOT, FakeLambdaContext, SmsStack, load_event
from tests.integration.stats_day import CONTEXT, DAY, Stack, seed_chat, seed_sms

ORIGIN_SECRET = "local-origin-secret"
CHAT_SECRET = "test-signing-secret-0123456789abcdef0123456789"


@pytest.fixture(autouse=True)
def _api_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET", ORIGIN_SECRET)
    caches = (
        wiring.producer,
        wiring.status_store,
        wiring.stats_reader,
        wiring.room_state,
        wiring.message_store,
    )
    for cached in caches:
        cached.cache_clear()
    yield
    for cached in caches:
        cached.cache_clear()


def call(
    name: str,
    *,
    method: str | None = None,
    path: str | None = None,
    body: Any = None,
    raw_body: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str | None] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """Invoke the handler with an events/api file, changed as asked; (status, headers, JSON)."""
    event = copy.deepcopy(load_event(f"api/{name}.json"))
    if method:
        event["requestContext"]["http"]["method"] = method
    if path:
        event["rawPath"] = path
        event["requestContext"]["http"]["path"] = path
    if body is not None:
        event["body"] = json.dumps(body)
    if raw_body is not None:
        event["body"] = raw_body
    if query is not None:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    for key, value in (headers or {}).items():
        if value is None:
            event["headers"].pop(key, None)
        else:
            event["headers"][key] = value
    response = api_handler.handler(event, FakeLambdaContext())
    text = response.get("body") or "null"
    return response["statusCode"], response.get("headers", {}), json.loads(text)


def job(job_id: str, **extra: Any) -> dict[str, Any]:
    return {"job_id": job_id, "to": "+821012345678", "body": "Your code is 123456", **extra}


# ---- POST /api/sms ----------------------------------------------------------------------------


def test_submitted_jobs_are_queued_by_priority_with_per_job_results(sms_stack: SmsStack) -> None:
    status, _, body = call("post-sms")

    assert status == 202
    assert body["jobs"] == 2
    assert body["queued"] == 2
    assert body["failed"] == 0
    assert [(r["index"], r["job_id"], r["status"], r["queue"]) for r in body["results"]] == [
        (0, "otp-20261125-0001", "queued", "transactional"),
        (1, "promo-20261125-0001", "queued", "bulk"),
    ]
    transactional = sms_stack.drain("courier-sms-transactional")
    bulk = sms_stack.drain("courier-sms-bulk")
    assert [json.loads(m["Body"])["job_id"] for m in transactional] == ["otp-20261125-0001"]
    assert [json.loads(m["Body"])["job_id"] for m in bulk] == ["promo-20261125-0001"]


def test_one_job_object_is_accepted(sms_stack: SmsStack) -> None:
    status, _, body = call("post-sms", body=job("single-1"))

    assert status == 202
    assert [r["job_id"] for r in body["results"]] == ["single-1"]
    assert len(sms_stack.drain("courier-sms-transactional")) == 1


def test_a_malformed_job_gives_422_with_field_errors_and_nothing_is_queued(
    sms_stack: SmsStack,
) -> None:
    jobs = [job("good-1"), job("bad-1", to="12345", extra_field=1), {"to": "+821012345678"}]

    status, _, body = call("post-sms", body=jobs)

    assert status == 422
    assert body["code"] == "validation_error"
    assert body["message"]
    problems = {(e["index"], e.get("job_id"), e.get("field")) for e in body["errors"]}
    assert problems == {
        (1, "bad-1", "to"),
        (1, "bad-1", "extra_field"),
        (2, None, "job_id"),
        (2, None, "body"),
    }
    assert "+821012345678" not in json.dumps(body)  # values are never echoed
    assert sms_stack.drain("courier-sms-transactional") == []
    assert sms_stack.drain("courier-sms-bulk") == []


def test_duplicate_job_ids_in_one_request_are_refused_before_sending(sms_stack: SmsStack) -> None:
    status, _, body = call("post-sms", body=[job("dup-1"), job("dup-1")])

    assert status == 422
    assert [(e["index"], e["code"]) for e in body["errors"]] == [(1, "duplicate_job_id")]
    assert sms_stack.drain("courier-sms-transactional") == []


@pytest.mark.parametrize(
    ("payload", "code"),
    [([], "too_short"), ([job(f"j-{n}") for n in range(101)], "too_many_jobs"), (7, "model_type")],
)
def test_empty_oversized_or_non_job_bodies_are_422(
    sms_stack: SmsStack, payload: Any, code: str
) -> None:
    status, _, body = call("post-sms", body=payload)

    assert status == 422
    assert [e["code"] for e in body["errors"]] == [code]
    assert sms_stack.drain("courier-sms-transactional") == []


def test_a_body_that_is_not_json_is_400(sms_stack: SmsStack) -> None:
    status, _, body = call("post-sms", raw_body="{not json")

    assert (status, body["code"]) == (400, "invalid_json")


def test_a_body_over_256_kib_is_413_before_parsing(sms_stack: SmsStack) -> None:
    status, _, body = call("post-sms", raw_body="[" + " " * (256 * 1024) + "]")

    assert (status, body["code"]) == (413, "payload_too_large")
    assert sms_stack.drain("courier-sms-transactional") == []


def test_jobs_the_queue_refuses_give_502_with_per_job_results(
    sms_stack: SmsStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMS_BULK_QUEUE_URL", "")

    status, _, body = call("post-sms")

    assert status == 502
    assert body["code"] == "enqueue_failed"
    assert [r["status"] for r in body["results"]] == ["queued", "failed"]
    assert body["results"][1]["error"]["code"] == "queue_not_configured"


# ---- GET /api/sms/{job_id} --------------------------------------------------------------------


def test_a_sent_jobs_status_record_is_read_back_masked(sms_stack: SmsStack) -> None:
    assert call("post-sms")[0] == 202
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m["Attributes"],
            "messageAttributes": {},
            "eventSource": "aws:sqs",
            "eventSourceARN": sms_stack.arn("courier-sms-transactional"),
            "awsRegion": "ap-northeast-2",
        }
        for m in sms_stack.drain("courier-sms-transactional")
    ]
    sender.sms_consumer.cache_clear()
    assert sender.handler({"Records": records}, FakeLambdaContext()) == {"batchItemFailures": []}
    sender.sms_consumer.cache_clear()

    status, _, body = call("get-sms")

    assert status == 200
    assert body["job_id"] == "otp-20261125-0001"
    assert body["status"] == "SENT"
    # The sandbox (like SNS) sends no receipts: the record says SENT is final
    assert body["delivery_receipts"] == "none"
    assert body["to_masked"]
    assert body["to_masked"] != "+821012345678"
    assert "+821012345678" not in json.dumps(body)
    assert "123456" not in json.dumps(body)  # no message body


def test_an_unknown_job_is_404(sms_stack: SmsStack) -> None:
    status, _, body = call("get-sms", path="/api/sms/never-sent")

    assert (status, body["code"]) == (404, "job_not_found")


def test_a_malformed_job_id_is_400(sms_stack: SmsStack) -> None:
    status, _, body = call("get-sms", path="/api/sms/bad%20id!")

    assert (status, body["code"]) == (400, "invalid_job_id")


# ---- GET /api/stats/{date} --------------------------------------------------------------------


def test_a_published_days_stats_are_returned(stack: Stack) -> None:
    seed_sms()
    seed_chat()
    # What the state machine does for one backfilled day: plan, the shard Map, publish
    [day] = plan.handler({"date": DAY}, CONTEXT)["days"]
    run = "api-test"
    partials = [aggregate.handler({**task, "run": run}, CONTEXT) for task in day["shards"]]
    publish.handler({"date": DAY, "run": run, "partials": partials}, CONTEXT)

    status, _, body = call("get-stats")

    assert status == 200
    assert body["date"] == DAY
    assert body["timezone"] == "Asia/Seoul"
    assert body["sms"]["jobs"] == 27
    assert body["chat"]["messages"] == 12
    assert body["chat"]["top_rooms"][0] == {"room": "lobby", "messages": 5}
    assert body["summary"]


def test_a_day_without_stats_is_404(stack: Stack) -> None:
    status, _, body = call("get-stats", path="/api/stats/2026-11-20")

    assert (status, body["code"]) == (404, "stats_not_found")


@pytest.mark.parametrize("day", ["2026-02-30", "yesterday", "2026-1-5"])
def test_a_malformed_date_is_400(stack: Stack, day: str) -> None:
    status, _, body = call("get-stats", path=f"/api/stats/{day}")

    assert (status, body["code"]) == (400, "invalid_date")


# ---- GET /api/rooms/{room}/messages -----------------------------------------------------------


def token(rooms: list[str]) -> str:
    return TokenSigner(CHAT_SECRET).mint("u-1", "Ada", rooms)


def seed_room(room: str, count: int) -> list[str]:
    """`count` messages as the channel stores them: the table, and Redis' recent list."""
    settings = get_settings()
    store = MessageStore.from_settings(settings)
    recent = RoomState(connect_redis(settings), recent_limit=settings.chat_history_recent)
    start = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    ids = []
    for n in range(count):
        message = StoredMessage(
            room=room,
            message_id=f"m{n:03d}",
            sender_sub="u-2",
            sender_name="Grace",
            text=f"hello {n}",
            sent_at=start + timedelta(seconds=n),
            client_msg_id=None,
        )
        store.append(message)
        event = MessageEvent(
            room=room,
            message_id=message.message_id,
            sender=Member(sub="u-2", name="Grace"),
            text=message.text,
            sent_at=message.sent_at,
        )
        recent.push_recent(room, event.model_dump_json())
        ids.append(message.message_id)
    return ids


def test_history_pages_back_from_redis_to_dynamodb(chat_env: Any) -> None:
    ids = seed_room("lobby", 8)
    auth = {"authorization": f"Bearer {token(['lobby'])}"}

    status, _, first = call("get-messages", query={"limit": "5"}, headers=auth)
    assert status == 200
    assert first["type"] == "history"
    assert first["room"] == "lobby"
    assert [m["message_id"] for m in first["messages"]] == ids[3:]
    assert first["next_cursor"]

    status, _, second = call(
        "get-messages", query={"limit": "5", "cursor": first["next_cursor"]}, headers=auth
    )
    assert status == 200
    assert [m["message_id"] for m in second["messages"]] == ids[:3]
    assert second.get("next_cursor") is None


def test_history_without_or_with_a_bad_token_is_401(chat_env: Any) -> None:
    for auth in (None, "Bearer not-a-token", "Basic dXNlcjpwdw=="):
        status, headers, body = call("get-messages", headers={"authorization": auth})
        assert (status, body["code"]) == (401, "unauthorized")
        assert headers.get("WWW-Authenticate") == "Bearer"


def test_history_of_a_room_outside_the_tokens_claims_is_403(chat_env: Any) -> None:
    seed_room("team-b", 2)
    auth = {"authorization": f"Bearer {token(['lobby', 'team-a*'])}"}

    status, _, body = call("get-messages", path="/api/rooms/team-b/messages", headers=auth)

    assert (status, body["code"]) == (403, "forbidden")
    assert "messages" not in body


def test_history_with_a_cursor_of_another_room_is_400(chat_env: Any) -> None:
    seed_room("lobby", 8)
    seed_room("team-a", 8)
    auth = {"authorization": f"Bearer {token(['lobby', 'team-a'])}"}
    _, _, lobby = call("get-messages", query={"limit": "5"}, headers=auth)

    status, _, body = call(
        "get-messages",
        path="/api/rooms/team-a/messages",
        query={"cursor": lobby["next_cursor"]},
        headers=auth,
    )

    assert (status, body["code"]) == (400, "bad_cursor")


def test_history_with_an_out_of_range_limit_is_422(chat_env: Any) -> None:
    auth = {"authorization": f"Bearer {token(['lobby'])}"}

    status, _, body = call("get-messages", query={"limit": "1000"}, headers=auth)

    assert (status, body["code"]) == (422, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["query.limit"]


# ---- the OpenAPI document, unknown routes, methods, the origin header -------------------------


def test_the_openapi_document_is_served(aws_env: None) -> None:
    status, _, body = call("get-openapi")

    assert status == 200
    assert body["openapi"].startswith("3.")
    assert "/api/rooms/{room}/messages" in body["paths"]
    assert body == json.loads((ROOT / "schemas" / "openapi.json").read_text(encoding="utf-8"))


def test_an_unknown_route_is_404(aws_env: None) -> None:
    status, _, body = call("get-openapi", path="/api/nothing-here")

    assert (status, body["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("name", "method"),
    [("post-sms", "GET"), ("get-sms", "DELETE"), ("get-stats", "POST"), ("get-openapi", "PUT")],
)
def test_a_wrong_method_on_a_known_path_is_405(aws_env: None, name: str, method: str) -> None:
    status, headers, body = call(name, method=method)

    assert (status, body["code"]) == (405, "method_not_allowed")
    assert headers["Allow"] in {"GET", "POST"}


@pytest.mark.parametrize("given", [None, "wrong-secret", ""])
def test_calls_that_bypass_cloudfront_are_403(sms_stack: SmsStack, given: str | None) -> None:
    status, _, body = call("post-sms", headers={"x-origin-verify": given})

    assert (status, body["code"]) == (403, "origin_not_allowed")
    assert sms_stack.drain("courier-sms-transactional") == []


def test_without_a_configured_secret_unsigned_calls_are_refused(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no origin secret configured, and verification not switched off
    monkeypatch.delenv("ORIGIN_VERIFY_SECRET")
    monkeypatch.delenv("VERIFY_CLOUDFRONT_ORIGIN", raising=False)

    # When unsigned calls arrive, with or without a header
    answers = [
        call("get-openapi", headers={"x-origin-verify": given})
        for given in (None, "", "local-origin-secret")
    ]

    # Then the function fails closed: every one is 403
    assert [status for status, _, _ in answers] == [403] * 3
    assert [body["code"] for _, _, body in answers] == ["origin_not_allowed"] * 3


def test_the_origin_check_is_off_only_when_switched_off_explicitly(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a stack without CloudFront (the local runtime): no secret, verification off
    monkeypatch.delenv("ORIGIN_VERIFY_SECRET")
    monkeypatch.setenv("VERIFY_CLOUDFRONT_ORIGIN", "false")

    # When a call without the header arrives
    status, _, _ = call("get-openapi", headers={"x-origin-verify": None})

    # Then it is served
    assert status == 200


def test_iam_signed_service_calls_on_the_api_url_need_no_origin_header(
    sms_stack: SmsStack,
) -> None:
    # Given a service calling POST /api/sms on the API's own URL, signed with SigV4: API Gateway
    # has authorized it (requestContext.authorizer.iam) and CloudFront's header is absent
    event_name = "post-sms"
    event = copy.deepcopy(load_event(f"api/{event_name}.json"))
    event["headers"].pop("x-origin-verify", None)
    event["requestContext"]["authorizer"] = {
        "iam": {"accountId": "123456789012", "userArn": "arn:aws:iam::123456789012:role/producer"}
    }

    # When it is handled
    response = api_handler.handler(event, FakeLambdaContext())

    # Then the jobs are queued
    assert response["statusCode"] == 202
    assert len(sms_stack.drain("courier-sms-transactional")) == 1
