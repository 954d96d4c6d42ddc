"""SNS adapter: Publish attributes, error mapping, and one real call path through moto."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from courier.settings import Settings
from courier.sms.providers import (
    OutboundSms,
    PermanentSendError,
    ProviderAccepted,
    ProviderError,
    RetryableSendError,
    UnknownOutcomeError,
    build_provider,
)
from courier.sms.providers.aws_calls import aws_client_config
from courier.sms.providers.sns import SnsProvider

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient

REGION = "ap-northeast-2"
TO = "+821012345678"


# Fake credentials and a fixed region (tests/conftest.py): no test can reach a real account.
pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture
def client() -> SNSClient:
    return boto3.client("sns", region_name=REGION, config=aws_client_config())


@pytest.fixture
def stubber(client: SNSClient) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def sms(**overrides: Any) -> OutboundSms:
    fields: dict[str, Any] = {
        "job_id": "job-1",
        "to": TO,
        "body": "Your code is 123456",
        "message_type": "TRANSACTIONAL",
        "parts": 1,
        "encoding": "GSM-7",
    }
    fields.update(overrides)
    return OutboundSms(**fields)


def attribute(value: str, data_type: str = "String") -> dict[str, str]:
    return {"DataType": data_type, "StringValue": value}


def test_publishes_with_sender_id_type_and_price(client: SNSClient, stubber: Stubber) -> None:
    # Given a provider whose default origination is an alphanumeric sender ID and a price cap
    provider = SnsProvider(client, origination_identity="CourierCo", max_price="0.05")
    stubber.add_response(
        "publish",
        {"MessageId": "sns-1"},
        expected_params={
            "PhoneNumber": TO,
            "Message": "Your code is 123456",
            "MessageAttributes": {
                "AWS.SNS.SMS.SMSType": attribute("Transactional"),
                "AWS.SNS.SMS.SenderID": attribute("CourierCo"),
                "AWS.SNS.SMS.MaxPrice": attribute("0.05", "Number"),
            },
        },
    )

    # When a transactional job is sent
    accepted = provider.send(sms())

    # Then SNS got the attributes it understands and the message id comes back
    assert accepted == ProviderAccepted(provider="sns", message_id="sns-1")


@pytest.mark.parametrize("number", ["+12065550100", "12345"])
def test_phone_number_origination_uses_the_origination_number_attribute(
    client: SNSClient, stubber: Stubber, number: str
) -> None:
    # Given a promotional job from a long code or a short code
    stubber.add_response(
        "publish",
        {"MessageId": "sns-2"},
        expected_params={
            "PhoneNumber": TO,
            "Message": "Sale today",
            "MessageAttributes": {
                "AWS.SNS.SMS.SMSType": attribute("Promotional"),
                "AWS.MM.SMS.OriginationNumber": attribute(number),
            },
        },
    )

    # When it is sent
    provider = SnsProvider(client, origination_identity="CourierCo")
    provider.send(sms(body="Sale today", message_type="PROMOTIONAL", origination=number))

    # Then the number travels as AWS.MM.SMS.OriginationNumber, not as a sender ID (stubbed)


def test_only_the_type_is_sent_when_nothing_else_is_configured(
    client: SNSClient, stubber: Stubber
) -> None:
    # Given no origination and no price cap
    stubber.add_response(
        "publish",
        {"MessageId": "sns-3"},
        expected_params={
            "PhoneNumber": TO,
            "Message": "Your code is 123456",
            "MessageAttributes": {"AWS.SNS.SMS.SMSType": attribute("Transactional")},
        },
    )

    # When a job is sent
    accepted = SnsProvider(client).send(sms())

    # Then the account defaults apply
    assert accepted.message_id == "sns-3"


def test_job_origination_sns_cannot_use_fails_without_a_call(
    client: SNSClient, stubber: Stubber
) -> None:
    # Given a job naming an End User Messaging pool ARN
    arn = "arn:aws:sms-voice:ap-northeast-2:123456789012:pool/pool-0123"

    # When it is sent through SNS
    with pytest.raises(PermanentSendError) as raised:
        SnsProvider(client).send(sms(origination=arn))

    # Then it fails for good before any API call (no stubbed response was consumed)
    assert raised.value.code == "PROVIDER_REJECTED:ORIGINATION_UNSUPPORTED"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"origination_identity": "pool-0123456789abcdef"}, "ORIGINATION"),
        ({"max_price": "five"}, "MAX_PRICE"),
    ],
)
def test_settings_sns_cannot_use_fail_at_start_up(
    client: SNSClient, options: dict[str, str], match: str
) -> None:
    # Given / When / Then: configuration that would fail every send stops the provider being built
    with pytest.raises(ValueError, match=match):
        SnsProvider(client, **options)


ERROR_CASES = [
    # (wire code from the SNS model, HTTP status, message, expected class, expected code)
    ("Throttled", 429, "Rate exceeded", RetryableSendError, "THROTTLED"),
    ("KMSThrottling", 400, "KMS throttled", RetryableSendError, "THROTTLED"),
    ("InternalError", 500, "Internal error", RetryableSendError, "PROVIDER_UNAVAILABLE"),
    ("ServiceUnavailable", 503, "Unavailable", RetryableSendError, "PROVIDER_UNAVAILABLE"),
    (
        "InvalidParameter",
        400,
        f"Invalid parameter: PhoneNumber Reason: {TO} is not valid to publish to",
        PermanentSendError,
        "INVALID_NUMBER",
    ),
    (
        "InvalidParameter",
        400,
        "Invalid parameter: Message too long",
        PermanentSendError,
        "PROVIDER_REJECTED:INVALID_PARAMETER",
    ),
    (
        "ParameterValueInvalid",
        400,
        "Invalid value for MessageAttributes",
        PermanentSendError,
        "PROVIDER_REJECTED:INVALID_PARAMETER",
    ),
    ("OptedOut", 400, "Phone number is opted out", PermanentSendError, "OPTED_OUT"),
    ("ValidationException", 400, "Invalid", PermanentSendError, "PROVIDER_REJECTED:VALIDATION"),
    (
        "AuthorizationError",
        403,
        "User is not authorized to perform: SNS:Publish",
        RetryableSendError,
        "PROVIDER_CONFIGURATION",
    ),
    ("KMSDisabled", 400, "Key disabled", RetryableSendError, "PROVIDER_CONFIGURATION"),
    (
        "InvalidClientTokenId",
        403,
        "The security token is invalid",
        RetryableSendError,
        "PROVIDER_CONFIGURATION",
    ),
    ("BrandNew", 400, "?", RetryableSendError, "PROVIDER_ERROR:BrandNew"),
]


@pytest.mark.parametrize(("service_code", "status", "message", "error_class", "code"), ERROR_CASES)
def test_service_errors_map_to_retryable_or_permanent(
    client: SNSClient,
    stubber: Stubber,
    service_code: str,
    status: int,
    message: str,
    error_class: type[ProviderError],
    code: str,
) -> None:
    # Given SNS answers with this error
    stubber.add_client_error(
        "publish", service_error_code=service_code, service_message=message, http_status_code=status
    )

    # When a job is sent
    with pytest.raises(ProviderError) as raised:
        SnsProvider(client).send(sms())

    # Then it is classified with a stable code, and the detail does not echo the number
    assert type(raised.value) is error_class
    assert raised.value.code == code
    assert TO not in raised.value.detail


def test_read_timeout_is_an_unknown_outcome_after_one_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the client the settings build, whose every HTTP attempt times out
    monkeypatch.setattr(
        "botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0
    )
    provider = SnsProvider.from_settings(Settings())
    attempts = 0

    def time_out(**_: Any) -> None:
        nonlocal attempts
        attempts += 1
        raise ReadTimeoutError(endpoint_url="https://sns.example")

    provider._client.meta.events.register("before-send.sns.Publish", time_out)

    # When a job is sent
    with pytest.raises(UnknownOutcomeError) as raised:
        provider.send(sms())

    # Then the SDK made one attempt, and the job may have been sent: never retried
    assert attempts == 1
    assert raised.value.code == "TIMEOUT_AFTER_SEND"


@mock_aws
def test_publish_reaches_sns_through_the_real_client_path() -> None:
    # Given a provider built from settings against moto's SNS
    provider = SnsProvider.from_settings(
        Settings(sms_origination_identity="CourierCo", sms_max_price_per_part="0.05")
    )

    # When a job is sent
    accepted = provider.send(sms())

    # Then SNS recorded an SMS to that number under the returned message id
    backend = sns_backends[DEFAULT_ACCOUNT_ID][REGION]
    assert accepted.provider == "sns"
    assert backend.sms_messages[accepted.message_id] == (TO, "Your code is 123456")


@mock_aws
def test_invalid_number_through_the_real_client_path() -> None:
    # Given a provider against moto's SNS, which checks E.164 the way SNS does
    provider = SnsProvider.from_settings(Settings())

    # When a job to a malformed number is sent
    with pytest.raises(PermanentSendError) as raised:
        provider.send(sms(to="+0123"))

    # Then SNS's InvalidParameter becomes INVALID_NUMBER
    assert raised.value.code == "INVALID_NUMBER"


def test_factory_picks_this_adapter() -> None:
    # Given settings that name SNS
    settings = Settings(sms_provider="sns")

    # When the factory builds the provider
    provider = build_provider(settings)

    # Then it is this adapter
    assert isinstance(provider, SnsProvider)
    assert provider.name == "sns"
