"""template.yaml keeps the SMS guarantees in step: idempotency TTL, queue retention, rates."""

from __future__ import annotations

from typing import Any

import pytest

from courier.settings import Settings
from tests.harness import template_resource, template_resources

SENDERS = {
    "SmsTransactionalSenderFunction": "SmsTransactionalQueue",
    "SmsBulkSenderFunction": "SmsBulkQueue",
}


def _environment(function: str) -> dict[str, Any]:
    variables: dict[str, Any] = template_resource(function)["Properties"]["Environment"][
        "Variables"
    ]
    return variables


@pytest.mark.parametrize(("function", "queue"), SENDERS.items())
def test_the_idempotency_record_outlives_every_way_a_job_can_come_back(
    function: str, queue: str
) -> None:
    # Given the sender's source queue and its dead-letter queue as deployed
    resources = template_resources()
    source = resources[queue]["Properties"]
    dead_letter_queue = source["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
    longest_stay = int(source["MessageRetentionPeriod"]) + int(
        resources[dead_letter_queue]["Properties"]["MessageRetentionPeriod"]
    )

    # When the sender's idempotency TTL is read from its environment
    ttl = int(
        Settings.from_env(
            {"SMS_IDEMPOTENCY_TTL_SECONDS": _environment(function)["SMS_IDEMPOTENCY_TTL_SECONDS"]}
        ).sms_idempotency_ttl_seconds
    )

    # Then a job redriven on the DLQ's last day still finds its record: never sent twice
    assert ttl > longest_stay
    assert Settings().sms_idempotency_ttl_seconds > longest_stay


@pytest.mark.parametrize("function", SENDERS)
def test_the_job_records_holding_the_claims_outlive_the_idempotency_window(
    function: str,
) -> None:
    # Given the messages table's TTL attribute and the sender's settings as deployed
    table = template_resource("SmsMessagesTable")["Properties"]
    environment = _environment(function)
    settings = Settings.from_env(
        {
            name: environment[name]
            for name in ("SMS_IDEMPOTENCY_TTL_SECONDS", "SMS_STATUS_TTL_DAYS")
            if name in environment
        }
    )

    # Then the item that holds a job's claim (courier.sms.job_claims) expires on the attribute
    # the status store writes, and not before the claim's own window ends
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert settings.sms_status_ttl_days * 86400 > settings.sms_idempotency_ttl_seconds


@pytest.mark.parametrize("function", SENDERS)
def test_the_fallback_rate_divides_the_provider_rate_by_every_sender_instance(
    function: str,
) -> None:
    # Given the sender's environment, When the fallback instance count is read
    instances = _environment(function)["SMS_RATE_LIMIT_FALLBACK_INSTANCES"]

    # Then it names both senders' maximum concurrency, so all instances together keep the rate
    assert instances == {
        "Fn::Join": [
            ",",
            [{"Ref": "TransactionalSenderMaxConcurrency"}, {"Ref": "BulkSenderMaxConcurrency"}],
        ]
    }
    settings = Settings.from_env(
        {"SMS_RATE_LIMIT_MPS": "20", "SMS_RATE_LIMIT_FALLBACK_INSTANCES": "10,5"}
    )
    assert settings.sms_rate_limit_fallback_rate == pytest.approx(20 / 15)
