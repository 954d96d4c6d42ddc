"""SMS provider adapter for Amazon SNS direct-to-phone `Publish`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from courier.sms.providers import (
    OutboundSms,
    PermanentSendError,
    ProviderAccepted,
    ProviderError,
    RetryableSendError,
)
from courier.sms.providers.aws_calls import (
    aws_client_config,
    common_client_error,
    error_code,
    log_refusal,
    scrub,
    send_and_accept,
    unknown_client_error,
)

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef, PublishInputTypeDef

    from courier.settings import Settings

# SNS sender IDs: up to 11 letters, digits and hyphens, at least one letter.
SENDER_ID = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9-]{1,11}$")
# Origination numbers: E.164 long codes and toll-free numbers, or bare short codes.
ORIGINATION_NUMBER = re.compile(r"^(\+[1-9][0-9]{4,14}|[0-9]{4,7})$")

MAX_PRICE = re.compile(r"^[0-9]+(\.[0-9]+)?$")

SMS_TYPES = {"TRANSACTIONAL": "Transactional", "PROMOTIONAL": "Promotional"}

# Keys are the wire codes from the service model's `error.code` (what ClientError carries) and,
# for emulators that send them, the shape names.
THROTTLING_CODES = frozenset(
    {"Throttled", "ThrottledException", "KMSThrottling", "KMSThrottlingException"}
)
UNAVAILABLE_CODES = frozenset({"InternalError", "InternalErrorException"})
INVALID_PARAMETER_CODES = frozenset(
    {
        "InvalidParameter",
        "InvalidParameterException",
        "ParameterValueInvalid",
        "InvalidParameterValue",
        "InvalidParameterValueException",
    }
)
OPTED_OUT_CODES = frozenset({"OptedOut", "OptedOutException"})
# Permissions, KMS key state and signing trouble: our configuration, fixable, then redrive.
CONFIGURATION_CODES = frozenset(
    {
        "AuthorizationError",
        "AuthorizationErrorException",
        "InvalidSecurity",
        "InvalidSecurityException",
        "KMSAccessDenied",
        "KMSAccessDeniedException",
        "KMSDisabled",
        "KMSDisabledException",
        "KMSInvalidState",
        "KMSInvalidStateException",
        "KMSNotFound",
        "KMSNotFoundException",
        "KMSOptInRequired",
    }
)


def origination_attribute(origination: str) -> tuple[str, str] | None:
    """The SNS message attribute that carries an origination identity, None if SNS has none."""
    if ORIGINATION_NUMBER.match(origination):
        return "AWS.MM.SMS.OriginationNumber", origination
    if SENDER_ID.match(origination):
        return "AWS.SNS.SMS.SenderID", origination
    return None


class SnsProvider:
    """Publishes straight to a phone number; SNS has no per-message TTL or context to carry."""

    name = "sns"
    # SNS reports SMS delivery only to CloudWatch Logs, through account-wide SMS attributes and
    # log groups it creates itself; a stack cannot own those safely, so jobs stay SENT (marked
    # `delivery_receipts: none`). docs/sms-pipeline.md says how to follow them in the logs.
    sends_receipts = False

    def __init__(
        self, client: SNSClient, *, origination_identity: str = "", max_price: str = ""
    ) -> None:
        if origination_identity and origination_attribute(origination_identity) is None:
            # A pool ID or ARN means the settings were written for End User Messaging; failing
            # at start-up beats rejecting every job.
            raise ValueError(
                "SMS_ORIGINATION_IDENTITY must be a sender ID or an origination number for SNS"
            )
        if max_price and not MAX_PRICE.match(max_price):
            raise ValueError("SMS_MAX_PRICE_PER_PART must be a decimal amount in USD, e.g. 0.05")
        self._client = client
        self._origination_identity = origination_identity
        self._max_price = max_price

    @classmethod
    def from_settings(cls, settings: Settings) -> SnsProvider:
        # boto3 costs hundreds of milliseconds to import; only pay for it when this adapter is used.
        import boto3

        client = boto3.client(
            "sns", config=aws_client_config(), endpoint_url=settings.aws_endpoint_url or None
        )
        return cls(
            client,
            origination_identity=settings.sms_origination_identity,
            max_price=settings.sms_max_price_per_part,
        )

    def build_request(self, message: OutboundSms) -> PublishInputTypeDef:
        """The `Publish` parameters for one job (public so tests can compare them)."""
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            "AWS.SNS.SMS.SMSType": {
                "DataType": "String",
                "StringValue": SMS_TYPES[message.message_type],
            }
        }
        origination = message.origination or self._origination_identity
        if origination:
            attribute = origination_attribute(origination)
            if attribute is None:
                raise PermanentSendError(
                    "PROVIDER_REJECTED:ORIGINATION_UNSUPPORTED",
                    "SNS takes a sender ID or an origination number, not a pool or ARN",
                )
            attributes[attribute[0]] = {"DataType": "String", "StringValue": attribute[1]}
        if self._max_price:
            attributes["AWS.SNS.SMS.MaxPrice"] = {
                "DataType": "Number",
                "StringValue": self._max_price,
            }
        return {"PhoneNumber": message.to, "Message": message.body, "MessageAttributes": attributes}

    def send(self, message: OutboundSms) -> ProviderAccepted:
        try:
            request = self.build_request(message)
        except PermanentSendError as error:
            raise log_refusal("SNS", message, error) from None
        return send_and_accept(
            provider=self.name,
            service="SNS",
            message=message,
            call=lambda: self._client.publish(**request),
            map_client_error=map_client_error,
        )


def map_client_error(exc: ClientError) -> ProviderError:
    """Map an SNS error answer to a retryable or permanent error with a stable code."""
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", "")
    detail = scrub(f"{code}: {message}")

    if code in THROTTLING_CODES:
        return RetryableSendError("THROTTLED", detail)
    if code in UNAVAILABLE_CODES:
        return RetryableSendError("PROVIDER_UNAVAILABLE", detail)
    if code in OPTED_OUT_CODES:
        return PermanentSendError("OPTED_OUT", detail)
    if code in CONFIGURATION_CODES:
        return RetryableSendError("PROVIDER_CONFIGURATION", detail)
    if code in INVALID_PARAMETER_CODES:
        # SNS answers "Invalid parameter: PhoneNumber Reason: ... is not valid to publish to".
        if "phonenumber" in message.lower().replace(" ", ""):
            return PermanentSendError("INVALID_NUMBER", detail)
        return PermanentSendError("PROVIDER_REJECTED:INVALID_PARAMETER", detail)
    if code == "ValidationException":
        return PermanentSendError("PROVIDER_REJECTED:VALIDATION", detail)
    return common_client_error(exc) or unknown_client_error(exc)
