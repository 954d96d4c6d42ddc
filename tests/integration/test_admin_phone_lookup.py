"""The admin lookup of a number's jobs: the senders write the keyed hash, the admin API finds it.

Both handlers run in-process against moto, reading the key from Secrets Manager as in AWS.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

import sender
from courier.admin.audit import AuditLog
from courier.http_api import wiring
from courier.observability import mask_phone
from courier.sms.phone_keys import PhoneKeys
from tests.harness import REGION, SmsStack, load_event
from tests.integration.test_admin_operations import _clear, admin_env, call  # noqa: F401

PHONE = "+821023456789"  # not the example number the API's messages quote
OTHER = "+821087654321"
KEY = "integration-phone-lookup-key-0123456789abcdef"


def _job(job_id: str, to: str, queue_arn: str, message_id: str) -> dict[str, Any]:
    record = copy.deepcopy(load_event("sms/sender-valid.json")["Records"][0])
    body = json.loads(record["body"])
    body.update(job_id=job_id, to=to)
    record.update(body=json.dumps(body), messageId=message_id, eventSourceARN=queue_arn)
    return record


@pytest.fixture
def keyed_stack(
    admin_env: tuple[SmsStack, AuditLog],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    lambda_context: Any,
) -> Iterator[SmsStack]:
    """The admin environment, the lookup key in Secrets Manager (as PhoneLookupKeySecret), and
    three jobs sent through the sender handler: two to PHONE (transactional, then bulk), one to
    OTHER."""
    from aws_lambda_powertools.utilities.parameters import clear_caches

    stack, _ = admin_env
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="PhoneLookupKeySecret", SecretString=json.dumps({"key": KEY})
    )["ARN"]
    monkeypatch.delenv("SMS_PHONE_KEY", raising=False)
    monkeypatch.setenv("SMS_PHONE_KEY_SECRET_ARN", arn)
    _clear()
    wiring.phone_keys.cache_clear()
    clear_caches()
    sender.sms_consumer.cache_clear()
    transactional, bulk = stack.arn("courier-sms-transactional"), stack.arn("courier-sms-bulk")
    first = {
        "Records": [
            _job("lookup-a1", PHONE, transactional, "m-1"),
            _job("lookup-b1", OTHER, transactional, "m-2"),
        ]
    }
    assert sender.handler(first, lambda_context) == {"batchItemFailures": []}
    # The bulk sender is another function: its own execution environment reads the key again.
    sender.sms_consumer.cache_clear()
    clear_caches()
    second = {"Records": [_job("lookup-a2", PHONE, bulk, "m-3")]}
    assert sender.handler(second, lambda_context) == {"batchItemFailures": []}
    sender.sms_consumer.cache_clear()
    clear_caches()
    yield stack
    wiring.phone_keys.cache_clear()


def test_the_sender_stores_the_keyed_hash_and_never_the_number(keyed_stack: SmsStack) -> None:
    # Given the three jobs sent with the key from Secrets Manager
    items = keyed_stack.status_items()

    # Then each record carries the number's keyed hash (32 hex digits, the key's HMAC)
    keys = PhoneKeys(KEY)
    assert items["lookup-a1"]["phone_key"] == keys.key_of(PHONE)
    assert items["lookup-a2"]["phone_key"] == keys.key_of(PHONE)
    assert items["lookup-b1"]["phone_key"] == keys.key_of(OTHER)
    assert re.fullmatch(r"[0-9a-f]{32}", items["lookup-a1"]["phone_key"])
    # And no attribute holds the number in full, only masked
    stored = json.dumps(items, default=str)
    assert PHONE.lstrip("+") not in stored
    assert OTHER.lstrip("+") not in stored
    assert items["lookup-a1"]["to_masked"] == mask_phone(PHONE)


def test_the_lookup_finds_a_numbers_jobs_newest_first_and_pages_them(
    keyed_stack: SmsStack, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # When an admin looks up PHONE (logs captured at INFO: Powertools' own DEBUG output, on only
    # with POWERTOOLS_DEBUG, prints every route's arguments, this number among them)
    caplog.set_level(logging.INFO)
    status, body = call("post-jobs-search.json", body={"phone": PHONE})

    # Then both of its jobs come back, newest first, masked, with status, priority and times
    assert status == 200, body
    assert body["to"] == mask_phone(PHONE)
    assert [job["job_id"] for job in body["jobs"]] == ["lookup-a2", "lookup-a1"]
    for job in body["jobs"]:
        assert job["to_masked"] == mask_phone(PHONE)
        assert job["status"] == "SENT"
        assert job["priority"]
        assert job["status_at"]
        assert job["created_at"]
    assert body["next_cursor"] is None or isinstance(body["next_cursor"], str)
    # And the number is in neither the response nor the logs in full
    assert PHONE.lstrip("+") not in json.dumps(body)
    printed = capsys.readouterr()
    assert PHONE.lstrip("+") not in printed.out + printed.err + caplog.text

    # When the other number is looked up: only its own job
    status, other = call("post-jobs-search.json", body={"phone": OTHER})
    assert status == 200, other
    assert [job["job_id"] for job in other["jobs"]] == ["lookup-b1"]

    # When PHONE is read a page of one at a time, the cursor walks to the older job
    status, page = call("post-jobs-search.json", body={"phone": PHONE, "limit": 1})
    assert (status, [job["job_id"] for job in page["jobs"]]) == (200, ["lookup-a2"])
    status, older = call(
        "post-jobs-search.json", body={"phone": PHONE, "limit": 1, "cursor": page["next_cursor"]}
    )
    assert (status, [job["job_id"] for job in older["jobs"]]) == (200, ["lookup-a1"]), older


def test_a_number_without_jobs_finds_none(keyed_stack: SmsStack) -> None:
    status, body = call("post-jobs-search.json", body={"phone": "+821099998888"})
    assert (status, body["jobs"], body["next_cursor"]) == (200, [], None)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"phone": "01012345678"}, "invalid_phone"),  # not E.164
        ({"phone": "+8200000"}, "invalid_phone"),  # E.164-shaped, not a valid number
        ({"phone": PHONE, "cursor": "not-a-cursor"}, "bad_cursor"),
    ],
)
def test_bad_numbers_and_cursors_are_400(
    keyed_stack: SmsStack, body: dict[str, str], code: str
) -> None:
    status, answer = call("post-jobs-search.json", body=body)
    assert (status, answer["code"]) == (400, code), answer
    assert PHONE.lstrip("+") not in json.dumps(answer)


def test_the_lookup_refuses_missing_expired_and_non_admin_tokens(keyed_stack: SmsStack) -> None:
    body = {"phone": PHONE}
    assert call("post-jobs-search.json", token=None, body=body)[0] == 401
    assert call("post-jobs-search.json", token="expired", body=body)[0] == 401
    assert call("post-jobs-search.json", token="viewer", body=body)[0] == 403
