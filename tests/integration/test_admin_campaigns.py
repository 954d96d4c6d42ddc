"""Campaigns end to end in-process: the admin API handler and the launcher handler against the
private MariaDB and moto SQS/DynamoDB (tables from template.yaml), the pool's JWKS on loopback."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import launcher as launcher_handler
import pytest

import admin_api as admin_handler
from courier.campaigns.launch import job_id_for
from courier.data.connections import Database
from courier.http_api import wiring
from courier.settings import get_settings
from courier.sms.status import SmsStatus, StatusChange
from local.mariadb_server import MariaDbServer
from tests.admin_tokens import CLIENT_ID, ISSUER, FakeUserPool
from tests.harness import REGION, FakeLambdaContext, SmsStack, load_event
from tests.integration.test_http_api_admin import ORIGIN_SECRET, JwksServer, _clear_caches

OPTED_OUT = "+821077770002"


@pytest.fixture
def pool() -> FakeUserPool:
    return FakeUserPool()


@pytest.fixture
def jwks(pool: FakeUserPool, monkeypatch: pytest.MonkeyPatch) -> Iterator[JwksServer]:
    with JwksServer(pool) as server:
        for name, value in {
            "ORIGIN_VERIFY_SECRET": ORIGIN_SECRET,
            "ADMIN_TOKEN_ISSUER": ISSUER,
            "ADMIN_CLIENT_ID": CLIENT_ID,
            "ADMIN_JWKS_URL": server.url,
        }.items():
            monkeypatch.setenv(name, value)
        _clear_caches()
        yield server
        _clear_caches()


@pytest.fixture
def campaign_env(
    jwks: JwksServer,
    sms_stack: SmsStack,
    database: Database,
    mariadb: MariaDbServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[SmsStack]:
    url = sms_stack.sqs.create_queue(QueueName="courier-campaign-launch")["QueueUrl"]
    sms_stack.queue_urls["courier-campaign-launch"] = url
    for name, value in {
        "DATABASE_URL": mariadb.writer_url,
        "DATABASE_READER_URL": mariadb.reader_url,
        "CAMPAIGN_LAUNCH_QUEUE_URL": url,
        "CAMPAIGN_PRICE_PER_PART": "0.02",
    }.items():
        monkeypatch.setenv(name, value)
    boto3.resource("dynamodb", region_name=REGION).Table("SmsOptOuts").put_item(
        Item={"phone_number": OPTED_OUT, "source": "test"}
    )
    _clear_caches()
    wiring.campaign_service.cache_clear()
    launcher_handler._adapters.cache_clear()
    yield sms_stack
    wiring.campaign_service.cache_clear()
    launcher_handler._adapters.cache_clear()


def call(
    method: str, path: str, token: str | None, body: Any = None, content_type: str = ""
) -> tuple[int, Any]:
    event = copy.deepcopy(load_event("admin/get-me.json"))
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["pathParameters"] = {"proxy": path.removeprefix("/api/admin/")}
    event["requestContext"].pop("authorizer")
    if token is None:
        event["headers"].pop("authorization")
    else:
        event["headers"]["authorization"] = f"Bearer {token}"
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
        event["headers"]["content-type"] = content_type or "application/json"
        event["isBase64Encoded"] = False
    response = admin_handler.handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def run_launcher(stack: SmsStack) -> list[dict[str, Any]]:
    """Deliver every launcher message on the queue to the launcher handler; the responses."""
    return [deliver(stack, m) for m in stack.drain("courier-campaign-launch")]


def deliver(stack: SmsStack, message: dict[str, Any]) -> dict[str, Any]:
    """One launcher message through the launcher handler, as the SQS event source would."""
    event = {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": stack.arn("courier-campaign-launch"),
                "awsRegion": REGION,
            }
        ]
    }
    return dict(launcher_handler.handler(event, FakeLambdaContext()))


def test_create_upload_launch_queues_bulk_jobs_and_counts_progress(
    pool: FakeUserPool, campaign_env: SmsStack, database: Database
) -> None:
    token = pool.access_token("alice", ["admin"])
    # Given a campaign created from a template
    status, created = call(
        "POST", "/api/admin/campaigns", token, {"name": "Spring", "template": "Hi {name}!"}
    )
    assert status == 201, created
    campaign_id = created["id"]
    # When an audience of three (one opted out), one repeat and one bad number is uploaded
    csv_text = (
        "phone,name\n+821077770001,Kim\n+821077770002,Lee\n+821077770003,Park\n"
        "+821077770001,Kim\n+8210,Bad\n"
    )
    status, report = call(
        "PUT", f"/api/admin/campaigns/{campaign_id}/audience", token, csv_text, "text/csv"
    )
    # Then the per-row report shows each problem row (numbers masked)
    assert status == 200, report
    assert report["counts"] == {"valid": 2, "invalid": 1, "duplicate": 1, "opted_out": 1}
    assert [(p["row"], p["status"]) for p in report["problems"]] == [
        (2, "opted_out"),
        (4, "duplicate"),
        (5, "invalid"),
    ]
    assert "77770002" not in json.dumps(report)
    # And the preview gives encoding, parts and cost
    status, preview = call("GET", f"/api/admin/campaigns/{campaign_id}", token)
    assert (preview["encoding"], preview["max_parts"], preview["total_cost"]) == (
        "GSM-7",
        1,
        "0.04",
    )
    # When it is launched now and the launcher runs
    status, launched = call(
        "POST", f"/api/admin/campaigns/{campaign_id}/launch", token, {"at": None}
    )
    assert (status, launched["state"]) == (202, "launching")
    assert run_launcher(campaign_env) == [{"batchItemFailures": []}]
    # Then the bulk queue holds the two valid recipients' jobs with the campaign in metadata
    jobs = [json.loads(m["Body"]) for m in campaign_env.drain("courier-sms-bulk")]
    assert sorted(j["to"] for j in jobs) == ["+821077770001", "+821077770003"]
    assert {j["job_id"] for j in jobs} == {
        job_id_for(campaign_id, "+821077770001"),
        job_id_for(campaign_id, "+821077770003"),
    }
    assert all(j["metadata"]["campaign_id"] == campaign_id for j in jobs)
    assert all(j["priority"] == "bulk" for j in jobs)
    # And progress counts what the status store recorded (one SENT, one not yet)
    wiring.status_store(get_settings()).record(
        StatusChange(job_id=jobs[0]["job_id"], status=SmsStatus.SENT, at=datetime.now(UTC))
    )
    status, preview = call("GET", f"/api/admin/campaigns/{campaign_id}", token)
    assert preview["campaign"]["state"] == "launched"
    assert preview["progress"] == {"jobs_queued": 2, "by_status": {"QUEUED": 1, "SENT": 1}}
    # And a relaunch is refused; the audit log has every change
    status, refused = call("POST", f"/api/admin/campaigns/{campaign_id}/launch", token, {})
    assert (status, refused["code"]) == (409, "wrong_state")
    with database.read_transaction() as cursor:
        cursor.execute(
            "SELECT action FROM admin_audit_log WHERE target = %s ORDER BY id", (campaign_id,)
        )
        actions = [row["action"] for row in cursor.fetchall()]
    assert actions == ["campaign.create", "campaign.audience", "campaign.launch"]


def test_a_cancelled_campaign_queues_nothing(pool: FakeUserPool, campaign_env: SmsStack) -> None:
    token = pool.access_token("alice", ["admin"])
    _, created = call("POST", "/api/admin/campaigns", token, {"name": "X", "template": "Hello"})
    campaign_id = created["id"]
    call(
        "PUT",
        f"/api/admin/campaigns/{campaign_id}/audience",
        token,
        "phone\n+821077770005\n",
        "text/csv",
    )
    call("POST", f"/api/admin/campaigns/{campaign_id}/launch", token, {"at": None})
    status, cancelled = call("POST", f"/api/admin/campaigns/{campaign_id}/cancel", token)
    assert (status, cancelled["state"]) == (200, "cancelled")
    run_launcher(campaign_env)
    assert campaign_env.drain("courier-sms-bulk") == []


def test_template_errors_are_422_with_every_problem(
    pool: FakeUserPool, campaign_env: SmsStack
) -> None:
    token = pool.access_token("alice", ["admin"])
    status, body = call(
        "POST", "/api/admin/campaigns", token, {"name": "X", "template": "Hi {na me"}
    )
    assert (status, body["code"]) == (422, "invalid_template")
    assert [e["code"] for e in body["errors"]] == ["unbalanced_brace"]


def test_campaign_routes_need_an_admin(pool: FakeUserPool, campaign_env: SmsStack) -> None:
    assert call("GET", "/api/admin/campaigns", None)[0] == 401
    assert call("GET", "/api/admin/campaigns", pool.access_token("bob", ["readers"]))[0] == 403
    body = {"name": "X", "template": "Hello"}
    assert (
        call("POST", "/api/admin/campaigns", pool.access_token("bob", ["readers"]), body)[0] == 403
    )


def test_a_scheduled_campaign_waits_and_the_launcher_requeues_itself(
    pool: FakeUserPool, campaign_env: SmsStack
) -> None:
    # Given a campaign scheduled an hour ahead
    token = pool.access_token("alice", ["admin"])
    _, created = call("POST", "/api/admin/campaigns", token, {"name": "Later", "template": "Hi"})
    campaign_id = created["id"]
    csv_text = "phone\n+821077770006\n"
    call("PUT", f"/api/admin/campaigns/{campaign_id}/audience", token, csv_text, "text/csv")
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    status, scheduled = call(
        "POST", f"/api/admin/campaigns/{campaign_id}/launch", token, {"at": at.isoformat()}
    )
    assert (status, scheduled["state"]) == (202, "scheduled")
    # When the launcher gets its message early (the test delivers it despite its delay)
    message = {
        "MessageId": "m-1",
        "ReceiptHandle": "r-1",
        "Body": f'{{"campaign_id":"{campaign_id}"}}',
    }
    assert deliver(campaign_env, message) == {"batchItemFailures": []}
    # Then nothing is queued for sending, and a second launcher message waits (up to 900 s)
    assert campaign_env.drain("courier-sms-bulk") == []
    waiting = campaign_env.sqs.get_queue_attributes(
        QueueUrl=campaign_env.queue_urls["courier-campaign-launch"],
        AttributeNames=["ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessages"],
    )["Attributes"]
    assert (
        int(waiting["ApproximateNumberOfMessagesDelayed"])
        + int(waiting["ApproximateNumberOfMessages"])
        == 2
    )
