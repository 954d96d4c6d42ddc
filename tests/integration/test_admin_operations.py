"""The admin routes (jobs, DLQ, opt-outs, moderation) through the admin handler in-process:
moto (SMS and chat tables, the queues), the session's MariaDB (audit log)
and redis-server (recent chat history), the pool's JWKS on loopback HTTP."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

import admin_api as admin_handler
from courier.admin import identity
from courier.admin.audit import AuditFilters, AuditLog
from courier.admin.audit_store import MySqlAuditStore
from courier.chat.channel import new_message_id
from courier.chat.message_store import StoredMessage
from courier.data import connections
from courier.data.connections import Database
from courier.http_api import wiring
from courier.settings import get_settings
from courier.sms.status import SmsStatus, StatusChange
from local.mariadb_server import MariaDbServer
from tests.admin_tokens import CLIENT_ID, ISSUER, FakeUserPool
from tests.harness import (
    FakeLambdaContext,
    SmsStack,
    create_table_from_template,
    load_event,
)
from tests.integration.test_http_api_admin import JwksServer

ORIGIN_SECRET = "local-origin-secret"
PHONE = "+821012345678"
ADMIN_CACHES = (
    wiring.audit_log,
    wiring.opt_outs,
    wiring.revocations,
    wiring.job_history,
    wiring.status_store,
    wiring.room_state,
    wiring.message_store,
)


def _clear() -> None:
    get_settings.cache_clear()
    identity._cached_verifier.cache_clear()
    for cached in ADMIN_CACHES:
        cached.cache_clear()
    connections.shared_database.cache_clear()


@pytest.fixture
def admin_env(
    sms_stack: SmsStack,
    redis_url: str,
    database: Database,
    mariadb: MariaDbServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[SmsStack, AuditLog]]:
    """Everything the admin function reads, in moto / MariaDB / Redis, and its settings."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    create_table_from_template(sms_stack.dynamodb, "ChatMessagesTable", "ChatMessages")
    create_table_from_template(sms_stack.dynamodb, "ChatRevocationsTable", "ChatRevocations")
    urls = sms_stack.queue_urls
    pool = FakeUserPool()
    with JwksServer(pool) as jwks:
        for name, value in {
            "ORIGIN_VERIFY_SECRET": ORIGIN_SECRET,
            "ADMIN_TOKEN_ISSUER": ISSUER,
            "ADMIN_CLIENT_ID": CLIENT_ID,
            "ADMIN_JWKS_URL": jwks.url,
            "DATABASE_URL": mariadb.writer_url,
            "DATABASE_READER_URL": mariadb.reader_url,
            "REDIS_URL": redis_url,
            "CHAT_MESSAGES_TABLE": "ChatMessages",
            "CHAT_REVOCATIONS_TABLE": "ChatRevocations",
            "CHAT_HISTORY_RECENT": "5",
            "SMS_TRANSACTIONAL_DEAD_LETTER_QUEUE_URL": urls["courier-sms-transactional-dlq"],
            "SMS_BULK_DEAD_LETTER_QUEUE_URL": urls["courier-sms-bulk-dlq"],
            "SMS_EVENTS_QUEUE_URL": urls["courier-sms-events"],
            "SMS_EVENTS_DEAD_LETTER_QUEUE_URL": urls["courier-sms-events-dlq"],
        }.items():
            monkeypatch.setenv(name, value)
        _clear()
        _POOL[0] = pool
        yield sms_stack, AuditLog(MySqlAuditStore(database))
        _clear()


_POOL: list[FakeUserPool] = [FakeUserPool()]


def call(
    event_file: str,
    *,
    token: str | None = "admin",
    path: str | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """Invoke the admin handler with an events/admin file; `token` "admin", "viewer" or raw."""
    event = copy.deepcopy(load_event(f"admin/{event_file}"))
    event["requestContext"].pop("authorizer")  # the function never trusts these claims
    if path:
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
        event["pathParameters"] = {"proxy": path.removeprefix("/api/admin/")}
    if body is not None:
        event["body"] = json.dumps(body)
    if query is not None:
        event["queryStringParameters"] = query
    pool = _POOL[0]
    if token is None:
        event["headers"].pop("authorization")
    else:
        raw = {
            "admin": lambda: pool.access_token("alice", ["admin"]),
            "viewer": lambda: pool.access_token("bob", ["readers"]),
            "expired": lambda: pool.access_token(
                "alice", ["admin"], issued_at=datetime.now(UTC).timestamp() - 7200
            ),
        }.get(token, lambda: token)()
        event["headers"]["authorization"] = f"Bearer {raw}"
    response = admin_handler.handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def audit_entries(audit: AuditLog, action: str) -> list[Any]:
    return audit.page(AuditFilters(action=action), None, 50).entries


# ---- authorization: one route of each module ------------------------------------------------


@pytest.mark.parametrize(
    "event_file", ["get-job.json", "post-opt-out.json", "post-user-revoke.json"]
)
def test_every_module_refuses_missing_expired_and_non_admin_tokens(
    admin_env: tuple[SmsStack, AuditLog], event_file: str
) -> None:
    _, audit = admin_env
    assert call(event_file, token=None)[0] == 401
    assert call(event_file, token="expired")[0] == 401
    assert call(event_file, token="viewer")[0] == 403
    assert audit.page(AuditFilters(), None, 10).entries == []  # nothing changed, nothing logged


# ---- jobs -------------------------------------------------------------------------------------


def test_a_job_is_shown_with_its_number_masked(admin_env: tuple[SmsStack, AuditLog]) -> None:
    # Given a job the sender recorded as SENT
    store = wiring.status_store(get_settings())
    store.record(
        StatusChange(job_id="order-1001", status=SmsStatus.SENT, at=datetime.now(UTC)),
        describe={"to_masked": "+82********78", "parts": 1},
    )

    status, body = call("get-job.json")
    missing = call("get-job.json", path="/api/admin/jobs/order-404")
    bad = call("get-job.json", path="/api/admin/jobs/no%20spaces")

    assert (status, body["status"], body["to_masked"]) == (200, "SENT", "+82********78")
    assert missing == (404, {"code": "job_not_found", "message": missing[1]["message"]})
    assert bad[0] in {400, 422}


# ---- dead letters -----------------------------------------------------------------------------


def _dead_letter(stack: SmsStack, job_id: str) -> str:
    body = json.dumps({"job_id": job_id, "to": PHONE, "body": "hi"})
    attributes = {
        "failure_code": {"DataType": "String", "StringValue": "PROVIDER_REJECTED"},
        "failure_reason": {"DataType": "String", "StringValue": "throttled"},
    }
    return str(
        stack.sqs.send_message(
            QueueUrl=stack.queue_urls["courier-sms-transactional-dlq"],
            MessageBody=body,
            MessageAttributes=attributes,
        )["MessageId"]
    )


def test_the_dlq_lists_reasons_and_masked_numbers(admin_env: tuple[SmsStack, AuditLog]) -> None:
    stack, _ = admin_env
    message_id = _dead_letter(stack, "job-dead-1")

    status, body = call("get-dlq.json")
    unknown = call("get-dlq.json", path="/api/admin/dlq/nowhere")

    assert status == 200
    [letter] = body["letters"]
    assert letter["message_id"] == message_id
    assert letter["failure_code"] == "PROVIDER_REJECTED"
    assert letter["to_masked"] != PHONE
    assert letter["to_masked"].endswith("78")
    assert PHONE not in json.dumps(body)
    assert unknown[0] == 404


def test_a_redrive_is_a_dry_run_until_applied_and_audited(
    admin_env: tuple[SmsStack, AuditLog],
) -> None:
    stack, audit = admin_env
    sent_id = _dead_letter(stack, "job-already-sent")
    wiring.status_store(get_settings()).record(
        StatusChange(job_id="job-already-sent", status=SmsStatus.SENT, at=datetime.now(UTC))
    )
    fresh_id = _dead_letter(stack, "job-fresh")

    # When an admin asks for a dry run, then applies it
    dry = call("post-dlq-redrive.json")
    assert stack.drain("courier-sms-transactional") == []
    assert audit_entries(audit, "sms.redrive") == []
    applied = call("post-dlq-redrive.json", body={"all": True, "apply": True})
    empty = call("post-dlq-redrive.json", body={})

    # Then only the job never sent went back; the other was refused as the CLI refuses it
    assert dry[0] == 200
    assert dry[1]["applied"] is False
    fates = {m["letter"]["message_id"]: m for m in dry[1]["messages"]}
    assert fates[sent_id]["refusal"] == "ALREADY_SENT"
    assert fates[fresh_id]["action"] == "redrive"
    assert applied[0] == 200
    assert applied[1]["moved"] == [fresh_id]
    moved = stack.drain("courier-sms-transactional")
    assert [json.loads(m["Body"])["job_id"] for m in moved] == ["job-fresh"]
    [entry] = audit_entries(audit, "sms.redrive")
    assert entry.actor.username == "alice"
    assert entry.before["to_move"] == [fresh_id]
    assert entry.before["refused"] == {sent_id: "ALREADY_SENT"}
    assert entry.after["moved"] == [fresh_id]
    assert empty[0] == 400
    assert empty[1]["code"] == "no_selection"


# ---- opt-outs ---------------------------------------------------------------------------------


def test_opt_outs_are_added_found_and_removed_with_audit_entries(
    admin_env: tuple[SmsStack, AuditLog],
) -> None:
    stack, audit = admin_env

    before = call("post-opt-outs-search.json")
    added = call("post-opt-out.json")
    found = call("post-opt-outs-search.json")
    removed = call("post-opt-out-remove.json")
    again = call("post-opt-out-remove.json")
    no_reason = call("post-opt-out.json", body={"phone": PHONE})
    bad_number = call("post-opt-out.json", body={"phone": "12345", "reason": "asked"})
    old_routes = [
        call("get-job.json", path="/api/admin/opt-outs", query={"phone": PHONE}),
        call("get-job.json", path=f"/api/admin/opt-outs/{PHONE}"),
    ]

    assert before == (
        200,
        {"to": before[1]["to"], "opted_out": False, "source": None, "opted_out_at": None},
    )
    assert added[0] == 200
    assert added[1]["opted_out"] is True
    assert "asked by phone" in found[1]["source"]
    assert "alice" in found[1]["source"]
    assert removed[0] == 200
    assert removed[1]["opted_out"] is False
    assert again[0] == 404
    assert again[1]["code"] == "not_opted_out"
    assert no_reason[0] == 422
    assert bad_number[0] == 400
    assert bad_number[1]["code"] == "invalid_phone"
    # And no route takes the number in its URL any more (405: only POST; 404)
    assert [status for status, _ in old_routes] == [405, 404]
    assert "Item" not in stack.dynamodb.get_item(
        TableName="SmsOptOuts", Key={"phone_number": {"S": PHONE}}
    )
    [add] = audit_entries(audit, "optout.add")
    [remove] = audit_entries(audit, "optout.remove")
    assert add.before is None
    assert add.after["to"] == add.target != PHONE
    assert remove.before["source"] == add.after["source"]
    assert remove.after is None


# ---- chat moderation --------------------------------------------------------------------------


def test_a_message_is_deleted_from_the_table_and_redis_and_audited(
    admin_env: tuple[SmsStack, AuditLog],
) -> None:
    _, audit = admin_env
    settings = get_settings()
    store, rooms = wiring.message_store(settings), wiring.room_state(settings)
    now = datetime.now(UTC)
    kept = StoredMessage("lobby", new_message_id(now), "u-bob", "bob", "hello", now, None)
    doomed = StoredMessage("lobby", new_message_id(now), "u-eve", "eve", "spam spam", now, None)
    for message in (kept, doomed):
        store.append(message)
        rooms.push_recent("lobby", json.dumps({"message_id": message.message_id}))

    path = f"/api/admin/rooms/lobby/messages/{doomed.message_id}"
    status, body = call("delete-room-message.json", path=path)
    gone = call("delete-room-message.json", path=path)
    bad = call("delete-room-message.json", path="/api/admin/rooms/lobby/messages/nope")

    assert status == 200
    assert body["sender_sub"] == "u-eve"
    assert body["in_recent_history"]
    assert [m.message_id for m in store.page("lobby", before=None, limit=10)[0]] == [
        kept.message_id
    ]
    assert [json.loads(r)["message_id"] for r in rooms.recent("lobby", 10)] == [kept.message_id]
    assert gone[0] == 404
    assert bad[0] == 400
    [entry] = audit_entries(audit, "chat.message.delete")
    assert entry.before["sender_sub"] == "u-eve"
    assert entry.before["text_chars"] == 9
    assert "spam" not in json.dumps(entry.before)
    assert entry.after is None


def test_revoking_a_user_records_the_previous_and_new_revocation(
    admin_env: tuple[SmsStack, AuditLog],
) -> None:
    _, audit = admin_env

    first = call("post-user-revoke.json")
    second = call("post-user-revoke.json")

    assert first[0] == 200
    assert first[1]["previously_revoked_at"] is None
    assert second[1]["previously_revoked_at"] == first[1]["revoked_at"]
    revoked = wiring.revocations(get_settings()).revoked_at("u-alice")
    assert revoked is not None
    entries = audit_entries(audit, "chat.user.revoke")
    assert [e.target for e in entries] == ["u-alice", "u-alice"]
    assert entries[-1].before is None
    assert entries[-1].after is not None


@pytest.mark.parametrize(
    ("queue", "body"),
    [
        ("bulk", {"job_id": "bulk-fresh", "to": PHONE, "body": "hi", "priority": "bulk"}),
        (
            "events",
            {
                "eventType": "TEXT_DELIVERED",
                "eventTimestamp": 1764028800000,
                "isFinal": True,
                "messageId": "provider-1",
                "destinationPhoneNumber": PHONE,
                "context": {"job_id": "receipt-1"},
            },
        ),
    ],
)
def test_the_bulk_and_events_dead_letters_are_listed_and_redriven_too(
    admin_env: tuple[SmsStack, AuditLog], queue: str, body: dict[str, Any]
) -> None:
    # Given one dead letter on the bulk or the events DLQ
    stack, audit = admin_env
    message_id = str(
        stack.sqs.send_message(
            QueueUrl=stack.queue_urls[f"courier-sms-{queue}-dlq"],
            MessageBody=json.dumps(body),
            MessageAttributes={
                "failure_code": {"DataType": "String", "StringValue": "PROVIDER_REJECTED"}
            },
        )["MessageId"]
    )

    # When an admin lists that queue, then redrives all of it
    listed = call("get-dlq.json", path=f"/api/admin/dlq/{queue}")
    applied = call(
        "post-dlq-redrive.json",
        path=f"/api/admin/dlq/{queue}/redrive",
        body={"all": True, "apply": True},
    )

    # Then the letter was listed without its number, moved back to its source queue, and audited
    assert listed[0] == 200
    assert [letter["message_id"] for letter in listed[1]["letters"]] == [message_id]
    assert PHONE not in json.dumps(listed[1])
    assert applied[0] == 200
    assert applied[1]["moved"] == [message_id], applied[1]
    moved = stack.drain(f"courier-sms-{queue}")
    assert [json.loads(m["Body"]) for m in moved] == [body]
    [entry] = audit_entries(audit, "sms.redrive")
    assert entry.after["moved"] == [message_id]


def test_the_deployed_origin_secret_comes_from_secrets_manager(
    admin_env: tuple[SmsStack, AuditLog], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the origin-verify secret in Secrets Manager, as the stack configures it
    import boto3
    from aws_lambda_powertools.utilities.parameters import clear_caches

    secrets = boto3.client("secretsmanager", region_name="ap-northeast-2")
    arn = secrets.create_secret(
        Name="OriginVerifySecret", SecretString=json.dumps({"value": ORIGIN_SECRET})
    )["ARN"]
    monkeypatch.delenv("ORIGIN_VERIFY_SECRET")
    monkeypatch.setenv("ORIGIN_VERIFY_SECRET_ARN", arn)
    _clear()
    clear_caches()

    # When an admin request arrives through CloudFront (the header carries the secret's value)
    status, body = call("get-job.json", path="/api/admin/jobs/order-404")

    # Then the function read the secret and let the request through to the route (404: no job)
    assert (status, body["code"]) == (404, "job_not_found"), body
