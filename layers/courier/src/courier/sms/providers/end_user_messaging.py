"""SMS provider adapter for AWS End User Messaging SMS (the `pinpoint-sms-voice-v2` API)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

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
    scrub,
    send_and_accept,
    unknown_client_error,
)

if TYPE_CHECKING:
    from mypy_boto3_pinpoint_sms_voice_v2 import PinpointSMSVoiceV2Client
    from mypy_boto3_pinpoint_sms_voice_v2.type_defs import SendTextMessageRequestTypeDef

    from courier.settings import Settings

# Limits from the service model (ContextMap, ContextKey, ContextValue, TimeToLive).
MAX_CONTEXT_ENTRIES = 5
MAX_CONTEXT_KEY_CHARS = 100
MAX_CONTEXT_VALUE_CHARS = 800
MIN_TTL_SECONDS = 5
MAX_TTL_SECONDS = 259200
MAX_PRICE = re.compile(r"^[0-9]{0,2}\.[0-9]{1,5}$")

# ConflictException reasons that are about our account or resources, not this recipient: fixing
# the configuration and redriving the queue recovers every job that hit them.
CONFIGURATION_CONFLICT_REASONS = frozenset(
    {"RESOURCE_NOT_ACTIVE", "NO_ORIGINATION_IDENTITIES_FOUND", "NUMBER_CAPABILITIES_MISMATCH"}
)
# ValidationException reasons that say a field is malformed. When the field is the destination
# number the number itself is bad; reasons such as DESTINATION_COUNTRY_BLOCKED or
# PRICE_OVER_THRESHOLD name the number too but are about the route, so they keep their own code.
MALFORMED_FIELD_REASONS = frozenset(
    {"", "CANNOT_PARSE", "FIELD_VALIDATION_FAILED", "INVALID_PARAMETER", "INVALID_REQUEST", "OTHER"}
)


class EndUserMessagingProvider:
    """Sends through `SendTextMessage`; `Context.job_id` ties delivery events back to the job."""

    name = "end-user-messaging"
    # Its configuration set's event destination feeds SmsEventsTopic → the status function.
    sends_receipts = True

    def __init__(
        self,
        client: PinpointSMSVoiceV2Client,
        *,
        origination_identity: str = "",
        configuration_set: str = "",
        max_price: str = "",
        ttl_seconds: int = 72 * 3600,
        dry_run: bool = False,
    ) -> None:
        if max_price and not MAX_PRICE.match(max_price):
            # Caught at start-up: a malformed MaxPrice would fail every send.
            raise ValueError("SMS_MAX_PRICE_PER_PART must look like 0.05 (USD, up to 5 decimals)")
        self._client = client
        self._origination_identity = origination_identity
        self._configuration_set = configuration_set
        self._max_price = max_price
        self._ttl_seconds = ttl_seconds
        self._dry_run = dry_run

    @classmethod
    def from_settings(cls, settings: Settings) -> EndUserMessagingProvider:
        # boto3 costs hundreds of milliseconds to import; only pay for it when this adapter is used.
        import boto3

        client = boto3.client(
            "pinpoint-sms-voice-v2",
            config=aws_client_config(),
            endpoint_url=settings.aws_endpoint_url or None,
        )
        return cls(
            client,
            origination_identity=settings.sms_origination_identity,
            configuration_set=settings.sms_configuration_set,
            max_price=settings.sms_max_price_per_part,
            ttl_seconds=settings.sms_message_ttl_seconds,
            dry_run=settings.sms_dry_run,
        )

    def build_request(self, message: OutboundSms) -> SendTextMessageRequestTypeDef:
        """The `SendTextMessage` parameters for one job (public so tests can compare them)."""
        ttl = message.ttl_seconds if message.ttl_seconds is not None else self._ttl_seconds
        request: SendTextMessageRequestTypeDef = {
            "DestinationPhoneNumber": message.to,
            "MessageBody": message.body,
            "MessageType": message.message_type,
            "TimeToLive": min(max(ttl, MIN_TTL_SECONDS), MAX_TTL_SECONDS),
            "Context": _context(message),
            "DryRun": self._dry_run,
        }
        origination = message.origination or self._origination_identity
        if origination:
            request["OriginationIdentity"] = origination
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        if self._max_price:
            request["MaxPrice"] = self._max_price
        return request

    def send(self, message: OutboundSms) -> ProviderAccepted:
        request = self.build_request(message)
        return send_and_accept(
            provider=self.name,
            service="End User Messaging",
            message=message,
            call=lambda: self._client.send_text_message(**request),
            map_client_error=map_client_error,
        )


def _context(message: OutboundSms) -> dict[str, str]:
    """`job_id` first, then as much of the job's context as the API's 5-entry map allows."""
    context = {"job_id": message.job_id[:MAX_CONTEXT_VALUE_CHARS]}
    for key, value in message.context.items():
        if len(context) >= MAX_CONTEXT_ENTRIES:
            break
        # Empty or whitespace keys and values fail the API's patterns and would sink the send.
        if key == "job_id" or not key.strip() or any(c.isspace() for c in key) or not value.strip():
            continue
        context[key[:MAX_CONTEXT_KEY_CHARS]] = value.strip()[:MAX_CONTEXT_VALUE_CHARS]
    return context


def _reason(exc: ClientError) -> str:
    # botocore puts modeled error members (Reason, Fields, ...) at the top of the response.
    response: Mapping[str, Any] = exc.response
    reason = response.get("Reason") or response.get("Error", {}).get("Reason") or ""
    return str(reason)


def _names_destination(exc: ClientError) -> bool:
    """Whether a ValidationException is about the destination phone number."""
    response: Mapping[str, Any] = exc.response
    fields = response.get("Fields") or []
    names = {str(f.get("Name", "")) for f in fields if isinstance(f, Mapping)}
    if any("destinationphonenumber" in name.lower().replace(" ", "") for name in names):
        return True
    message = str(response.get("Error", {}).get("Message", "")).lower()
    return "destinationphonenumber" in message or "destination phone number" in message


def map_client_error(exc: ClientError) -> ProviderError:
    """Map a service answer to a retryable or permanent error with a stable code."""
    code = error_code(exc)
    reason = _reason(exc)
    message = exc.response.get("Error", {}).get("Message", "")
    detail = scrub(f"{code}{f' ({reason})' if reason else ''}: {message}")

    if code == "ThrottlingException":
        return RetryableSendError("THROTTLED", detail)
    if code == "InternalServerException":
        return RetryableSendError("PROVIDER_UNAVAILABLE", detail)
    if code == "ServiceQuotaExceededException":
        # Daily/monthly limits and spend caps reset; jobs past the queue's retries are redriven.
        return RetryableSendError("QUOTA_EXCEEDED", detail)
    if code in {"AccessDeniedException", "ResourceNotFoundException"}:
        return RetryableSendError("PROVIDER_CONFIGURATION", detail)
    if code == "ConflictException":
        if reason == "DESTINATION_PHONE_NUMBER_OPTED_OUT":
            return PermanentSendError("OPTED_OUT", detail)
        if reason in CONFIGURATION_CONFLICT_REASONS:
            return RetryableSendError("PROVIDER_CONFIGURATION", detail)
        return PermanentSendError(f"PROVIDER_REJECTED:{reason or 'CONFLICT'}", detail)
    if code == "ValidationException":
        if reason in MALFORMED_FIELD_REASONS and _names_destination(exc):
            return PermanentSendError("INVALID_NUMBER", detail)
        return PermanentSendError(f"PROVIDER_REJECTED:{reason or 'VALIDATION'}", detail)
    return common_client_error(exc) or unknown_client_error(exc)
