"""End User Messaging adapter: request shape and error mapping against the real service model."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.exceptions import (
    BotoCoreError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.stub import Stubber

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
from courier.sms.providers.end_user_messaging import EndUserMessagingProvider

if TYPE_CHECKING:
    from mypy_boto3_pinpoint_sms_voice_v2 import PinpointSMSVoiceV2Client

REGION = "ap-northeast-2"
TO = "+821012345678"


# Fake credentials and a fixed region (tests/conftest.py): no test can reach a real account.
pytestmark = pytest.mark.usefixtures("aws_env")


@pytest.fixture
def client() -> PinpointSMSVoiceV2Client:
    return boto3.client("pinpoint-sms-voice-v2", region_name=REGION, config=aws_client_config())


@pytest.fixture
def stubber(client: PinpointSMSVoiceV2Client) -> Iterator[Stubber]:
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK's own retry sleeps up to seconds between attempts; the count is what matters here.
    monkeypatch.setattr(
        "botocore.retries.standard.ExponentialBackoff.delay_amount", lambda self, context: 0
    )


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


def provider_for(client: PinpointSMSVoiceV2Client, **options: Any) -> EndUserMessagingProvider:
    return EndUserMessagingProvider(client, **options)


def test_sends_with_every_configured_parameter(
    client: PinpointSMSVoiceV2Client, stubber: Stubber
) -> None:
    # Given a provider with a default sender, configuration set, price cap and dry run
    provider = provider_for(
        client,
        origination_identity="pool-0123456789abcdef0123456789abcdef",
        configuration_set="courier-events",
        max_price="0.05",
        ttl_seconds=259200,
        dry_run=True,
    )
    stubber.add_response(
        "send_text_message",
        {"MessageId": "msg-123"},
        expected_params={
            "DestinationPhoneNumber": TO,
            "MessageBody": "Your code is 123456",
            "MessageType": "TRANSACTIONAL",
            "OriginationIdentity": "pool-0123456789abcdef0123456789abcdef",
            "ConfigurationSetName": "courier-events",
            "MaxPrice": "0.05",
            "TimeToLive": 300,
            "Context": {"job_id": "job-1", "campaign": "signup"},
            "DryRun": True,
        },
    )

    # When a job with its own TTL and context is sent
    accepted = provider.send(sms(ttl_seconds=300, context={"campaign": "signup"}))

    # Then the API got exactly those parameters and the message id comes back
    assert accepted == ProviderAccepted(provider="end-user-messaging", message_id="msg-123")


def test_job_origination_wins_and_empty_options_are_omitted(
    client: PinpointSMSVoiceV2Client, stubber: Stubber
) -> None:
    # Given a provider with no configuration set or price cap
    provider = provider_for(client, origination_identity="DEFAULT", ttl_seconds=3600)
    stubber.add_response(
        "send_text_message",
        {"MessageId": "msg-2"},
        expected_params={
            "DestinationPhoneNumber": TO,
            "MessageBody": "Sale today",
            "MessageType": "PROMOTIONAL",
            "OriginationIdentity": "CourierCo",
            "TimeToLive": 3600,
            "Context": {"job_id": "job-2"},
            "DryRun": False,
        },
    )

    # When a promotional job names its own sender ID
    accepted = provider.send(
        sms(job_id="job-2", body="Sale today", message_type="PROMOTIONAL", origination="CourierCo")
    )

    # Then the job's sender and the settings' TTL are used, and nothing empty is sent
    assert accepted.message_id == "msg-2"


def test_origination_is_omitted_when_neither_job_nor_settings_name_one(
    client: PinpointSMSVoiceV2Client, stubber: Stubber
) -> None:
    # Given no origination identity anywhere
    provider = provider_for(client)
    stubber.add_response("send_text_message", {"MessageId": "msg-3"})

    # When the request is built
    request = provider.build_request(sms())

    # Then the account's default identity is left to the service
    assert "OriginationIdentity" not in request
    assert provider.send(sms()).message_id == "msg-3"


def test_context_fits_the_service_limits(
    client: PinpointSMSVoiceV2Client, stubber: Stubber
) -> None:
    # Given a job whose context has more entries than the API's 5, blanks, and a job_id impostor
    context = {
        "job_id": "spoofed",
        "blank": " ",
        "has space": "x",
        "a": "1",
        "b": "2",
        "c": "3",
        "d": "4",
        "e": "5",
    }
    stubber.add_response(
        "send_text_message",
        {"MessageId": "msg-4"},
        expected_params={
            "DestinationPhoneNumber": TO,
            "MessageBody": "Your code is 123456",
            "MessageType": "TRANSACTIONAL",
            "TimeToLive": 259200,
            "Context": {"job_id": "job-1", "a": "1", "b": "2", "c": "3", "d": "4"},
            "DryRun": False,
        },
    )

    # When it is sent
    provider_for(client, ttl_seconds=259200).send(sms(context=context))

    # Then job_id is ours, unusable entries are dropped and at most 5 entries go out (stubbed)


@pytest.mark.parametrize(("ttl", "sent"), [(1, 5), (0, 5), (999999, 259200)])
def test_ttl_is_clamped_to_the_service_range(
    client: PinpointSMSVoiceV2Client, ttl: int, sent: int
) -> None:
    # Given a job whose remaining lifetime is outside the API's 5..259200 seconds
    provider = provider_for(client)

    # When the request is built
    request = provider.build_request(sms(ttl_seconds=ttl))

    # Then the TTL is within range
    assert request["TimeToLive"] == sent


ERROR_CASES = [
    # (service code, HTTP status, modeled fields, message, expected class, expected code)
    ("ThrottlingException", 400, None, "Rate exceeded", RetryableSendError, "THROTTLED"),
    ("InternalServerException", 500, None, "oops", RetryableSendError, "PROVIDER_UNAVAILABLE"),
    ("ServiceUnavailable", 503, None, "unavailable", RetryableSendError, "PROVIDER_UNAVAILABLE"),
    ("BadGateway", 502, None, "bad gateway", RetryableSendError, "PROVIDER_UNAVAILABLE"),
    (
        "ServiceQuotaExceededException",
        402,
        {"Reason": "MONTHLY_SPEND_LIMIT_REACHED_FOR_TEXT"},
        "Spend limit reached",
        RetryableSendError,
        "QUOTA_EXCEEDED",
    ),
    (
        "ServiceQuotaExceededException",
        402,
        {"Reason": "DAILY_DESTINATION_CALL_LIMIT"},
        "Daily limit",
        RetryableSendError,
        "QUOTA_EXCEEDED",
    ),
    (
        "AccessDeniedException",
        403,
        {"Reason": "ACCOUNT_DISABLED"},
        "Account disabled",
        RetryableSendError,
        "PROVIDER_CONFIGURATION",
    ),
    (
        "AccessDeniedException",
        403,
        {"Reason": "INSUFFICIENT_ACCOUNT_REPUTATION"},
        "Reputation",
        RetryableSendError,
        "PROVIDER_CONFIGURATION",
    ),
    (
        "ResourceNotFoundException",
        404,
        {"ResourceType": "configuration-set", "ResourceId": "courier-events"},
        "No such configuration set",
        RetryableSendError,
        "PROVIDER_CONFIGURATION",
    ),
    (
        "UnrecognizedClientException",
        400,
        None,
        "The security token included in the request is invalid",
        RetryableSendError,
        "PROVIDER_CONFIGURATION",
    ),
    (
        "ConflictException",
        400,
        {"Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT", "ResourceType": "opted-out-number"},
        "Destination opted out",
        PermanentSendError,
        "OPTED_OUT",
    ),
    (
        "ConflictException",
        400,
        {"Reason": "RESOURCE_NOT_ACTIVE", "ResourceType": "pool"},
        "Pool not active",
        RetryableSendError,
        "PROVIDER_CONFIGURATION",
    ),
    (
        "ConflictException",
        400,
        {"Reason": "DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE"},
        "Blocked",
        PermanentSendError,
        "PROVIDER_REJECTED:DESTINATION_PHONE_NUMBER_BLOCKED_BY_PROTECT_NUMBER_OVERRIDE",
    ),
    ("ConflictException", 400, None, "Conflict", PermanentSendError, "PROVIDER_REJECTED:CONFLICT"),
    (
        "ValidationException",
        400,
        {
            "Reason": "CANNOT_PARSE",
            "Fields": [{"Name": "DestinationPhoneNumber", "Message": "Not a phone number"}],
        },
        "Invalid destination",
        PermanentSendError,
        "INVALID_NUMBER",
    ),
    (
        "ValidationException",
        400,
        {"Reason": "OTHER"},
        "The destination phone number is not valid",
        PermanentSendError,
        "INVALID_NUMBER",
    ),
    (
        "ValidationException",
        400,
        {
            "Reason": "DESTINATION_COUNTRY_BLOCKED",
            "Fields": [{"Name": "DestinationPhoneNumber", "Message": "Country blocked"}],
        },
        "Destination country blocked",
        PermanentSendError,
        "PROVIDER_REJECTED:DESTINATION_COUNTRY_BLOCKED",
    ),
    (
        "ValidationException",
        400,
        {"Reason": "PRICE_OVER_THRESHOLD"},
        "Price over MaxPrice",
        PermanentSendError,
        "PROVIDER_REJECTED:PRICE_OVER_THRESHOLD",
    ),
    (
        "ValidationException",
        400,
        {"Reason": "SENDER_ID_NOT_REGISTERED"},
        "Sender ID not registered",
        PermanentSendError,
        "PROVIDER_REJECTED:SENDER_ID_NOT_REGISTERED",
    ),
    (
        "ValidationException",
        400,
        None,
        "Something",
        PermanentSendError,
        "PROVIDER_REJECTED:VALIDATION",
    ),
    (
        "SomethingNewException",
        400,
        None,
        "?",
        RetryableSendError,
        "PROVIDER_ERROR:SomethingNewException",
    ),
]


@pytest.mark.parametrize(
    ("service_code", "status", "modeled", "service_message", "error_class", "code"), ERROR_CASES
)
def test_service_errors_map_to_retryable_or_permanent(
    client: PinpointSMSVoiceV2Client,
    stubber: Stubber,
    service_code: str,
    status: int,
    modeled: dict[str, Any] | None,
    service_message: str,
    error_class: type[ProviderError],
    code: str,
) -> None:
    # Given the service answers with this error (modeled fields checked against the error shape)
    stubber.add_client_error(
        "send_text_message",
        service_error_code=service_code,
        service_message=service_message,
        http_status_code=status,
        modeled_fields=modeled,
    )

    # When a job is sent
    with pytest.raises(ProviderError) as raised:
        provider_for(client).send(sms())

    # Then it is classified with a stable code
    assert type(raised.value) is error_class
    assert raised.value.code == code


def test_error_detail_and_logs_never_hold_the_full_number_or_body(
    client: PinpointSMSVoiceV2Client, stubber: Stubber, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an error message that echoes the destination number
    stubber.add_client_error(
        "send_text_message",
        service_error_code="ValidationException",
        service_message=f"DestinationPhoneNumber {TO} is not valid",
        modeled_fields={"Reason": "INVALID_PARAMETER"},
    )

    # When the job fails
    with pytest.raises(PermanentSendError) as raised:
        provider_for(client).send(sms())

    # Then neither the recorded detail nor the log line carries the number or the body
    logged = " ".join(str(vars(record)) for record in caplog.records)
    assert raised.value.code == "INVALID_NUMBER"
    for text in (raised.value.detail, str(raised.value), logged):
        assert TO not in text
        assert TO.lstrip("+") not in text
        assert "123456" not in text
    assert "job-1" in logged


def test_client_side_validation_failure_is_permanent(client: PinpointSMSVoiceV2Client) -> None:
    # Given a body the SDK refuses before sending (the model's minimum length is 1)
    provider = provider_for(client)

    # When it is sent
    with pytest.raises(PermanentSendError) as raised:
        provider.send(sms(body=""))

    # Then the same request would be refused again, so the job fails for good, naming the field
    assert raised.value.code == "PROVIDER_REJECTED:PARAM_VALIDATION"
    assert raised.value.detail == "invalid parameters: MessageBody"


def test_accepted_without_message_id_is_still_accepted(
    client: PinpointSMSVoiceV2Client, stubber: Stubber
) -> None:
    # Given an HTTP 200 answer without a MessageId
    stubber.add_response("send_text_message", {})

    # When a job is sent
    accepted = provider_for(client).send(sms())

    # Then it counts as sent (a retry would duplicate it)
    assert accepted == ProviderAccepted(provider="end-user-messaging", message_id="")


@pytest.mark.usefixtures("no_backoff")
@pytest.mark.parametrize(
    ("failure", "error", "code"),
    [
        (
            ConnectTimeoutError(endpoint_url="https://sms-voice.example"),
            RetryableSendError,
            "CONNECT_TIMEOUT",
        ),
        (
            EndpointConnectionError(endpoint_url="https://sms-voice.example"),
            RetryableSendError,
            "CONNECTION",
        ),
        (
            ReadTimeoutError(endpoint_url="https://sms-voice.example"),
            UnknownOutcomeError,
            "TIMEOUT_AFTER_SEND",
        ),
        (
            ConnectionClosedError(endpoint_url="https://sms-voice.example"),
            UnknownOutcomeError,
            "CONNECTION_LOST",
        ),
    ],
)
def test_a_send_is_attempted_once_and_an_answer_lost_after_writing_is_an_unknown_outcome(
    failure: BotoCoreError, error: type[Exception], code: str
) -> None:
    # Given the client the settings build, whose every HTTP attempt fails in transport
    provider = EndUserMessagingProvider.from_settings(Settings())
    attempts = 0

    def fail(**_: Any) -> None:
        nonlocal attempts
        attempts += 1
        raise failure

    provider._client.meta.events.register("before-send.pinpoint-sms-voice-v2.SendTextMessage", fail)

    # When a job is sent
    with pytest.raises(error) as raised:
        provider.send(sms())

    # Then the SDK made one attempt: a failure before the connection is retryable (nothing was
    # written), one after it may have sent the message and is never retried
    assert attempts == 1
    assert isinstance(raised.value, ProviderError)
    assert raised.value.code == code


def test_from_settings_builds_a_short_timeout_client() -> None:
    # Given settings that point at a local emulator
    settings = Settings(
        aws_endpoint_url="http://localhost:4566",
        sms_origination_identity="CourierCo",
        sms_configuration_set="courier-events",
        sms_max_price_per_part="0.10",
        sms_message_ttl_seconds=600,
        sms_dry_run=True,
    )

    # When the provider is built from them
    provider = EndUserMessagingProvider.from_settings(settings)

    # Then the client makes one attempt with short timeouts and the emulator endpoint
    config: Any = provider._client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 1}
    assert config.connect_timeout == 2
    assert config.read_timeout == 5
    assert provider._client.meta.endpoint_url == "http://localhost:4566"
    request = provider.build_request(sms())
    assert request["OriginationIdentity"] == "CourierCo"
    assert request["ConfigurationSetName"] == "courier-events"
    assert request["MaxPrice"] == "0.10"
    assert request["TimeToLive"] == 600
    assert request["DryRun"] is True


def test_malformed_max_price_fails_at_start_up(client: PinpointSMSVoiceV2Client) -> None:
    # Given / When / Then: a price the API's pattern rejects stops the provider being built
    with pytest.raises(ValueError, match="MAX_PRICE"):
        provider_for(client, max_price="5 cents")


def test_factory_picks_this_adapter() -> None:
    # Given settings that name End User Messaging
    settings = Settings(sms_provider="end-user-messaging")

    # When the factory builds the provider
    provider = build_provider(settings)

    # Then it is this adapter
    assert isinstance(provider, EndUserMessagingProvider)
    assert provider.name == "end-user-messaging"


def test_importing_the_adapter_does_not_import_boto3() -> None:
    # Given a fresh interpreter
    code = "import sys, courier.sms.providers.end_user_messaging; sys.exit('boto3' in sys.modules)"

    # When only the module is imported
    result = subprocess.run([sys.executable, "-c", code], check=False)

    # Then boto3 is still unloaded (it is imported when a client is built)
    assert result.returncode == 0
