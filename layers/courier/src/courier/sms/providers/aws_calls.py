"""Shared by the boto3-backed SMS providers: client settings, error mapping, the send call."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ProxyConnectionError,
    ReadTimeoutError,
    SSLError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from courier.aws_errors import THROTTLING_CODES
from courier.observability import logger, mask_phone
from courier.sms.providers import (
    OutboundSms,
    PermanentSendError,
    ProviderAccepted,
    ProviderError,
    RetryableSendError,
    UnknownOutcomeError,
)

if TYPE_CHECKING:
    from botocore.config import Config

# Codes every AWS API may return regardless of its own model (auth, throttling, outages).
COMMON_THROTTLING_CODES = THROTTLING_CODES
COMMON_CONFIGURATION_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "OptInRequired",
    }
)
COMMON_UNAVAILABLE_CODES = frozenset(
    {
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)

_DIGIT_RUN = re.compile(r"\+?[0-9]{6,}")
_PARAMETER_NAME = re.compile(r"parameter ([A-Za-z0-9_.\[\]]+)")
_MAX_DETAIL_CHARS = 300


def aws_client_config() -> Config:
    """One attempt, short timeouts: a send is never retried by the SDK.

    botocore's standard mode retries read timeouts and dropped connections, which may come after
    the provider accepted the message: a retry there sends it twice. SQS redelivery with backoff
    is the retry loop for answers that say the message was not taken; an answer that never came
    is an unknown outcome (see `transport_error`). The timeouts fit well inside the sender's 30 s
    budget: a 2 s connect plus a 5 s read, once.
    """
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=2,
        read_timeout=5,
    )


def scrub(text: str) -> str:
    """A provider message fit for logs and status records: phone-like digit runs masked, capped."""
    return _DIGIT_RUN.sub(lambda match: mask_phone(match.group()), text)[:_MAX_DETAIL_CHARS]


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "") or "Unknown"


def http_status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def common_client_error(exc: ClientError) -> ProviderError | None:
    """The mapping every AWS adapter shares; None when the code needs service knowledge."""
    code = error_code(exc)
    detail = scrub(f"{code}: {exc.response.get('Error', {}).get('Message', '')}")
    if code in COMMON_THROTTLING_CODES:
        return RetryableSendError("THROTTLED", detail)
    if code in COMMON_CONFIGURATION_CODES:
        return RetryableSendError("PROVIDER_CONFIGURATION", detail)
    if code in COMMON_UNAVAILABLE_CODES or http_status(exc) >= 500:
        return RetryableSendError("PROVIDER_UNAVAILABLE", detail)
    return None


def unknown_client_error(exc: ClientError) -> RetryableSendError:
    """A code nobody mapped: retry, so the job ends in the dead-letter queue, not lost."""
    code = error_code(exc)
    return RetryableSendError(
        f"PROVIDER_ERROR:{code}",
        scrub(f"{code}: {exc.response.get('Error', {}).get('Message', '')}"),
    )


def transport_error(exc: BotoCoreError) -> ProviderError:
    """Map an SDK-side failure (no service answer) to our errors.

    Only failures that happen before the request is written are safe to retry: the connection
    was never made (connect timeout, refused, DNS). A read timeout or a connection closed or
    broken after that may come after the provider accepted the message, so it is an unknown
    outcome, never a retry.
    """
    detail = scrub(str(exc))
    if isinstance(exc, ConnectTimeoutError):
        return RetryableSendError("CONNECT_TIMEOUT", detail)
    if isinstance(exc, EndpointConnectionError | ProxyConnectionError | SSLError):
        # Refused, unresolvable or no TLS session: nothing was written.
        return RetryableSendError("CONNECTION", detail)
    if isinstance(exc, ReadTimeoutError):
        return UnknownOutcomeError("TIMEOUT_AFTER_SEND", detail)
    if isinstance(exc, ConnectionClosedError | BotoConnectionError | HTTPClientError):
        return UnknownOutcomeError("CONNECTION_LOST", detail)
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return RetryableSendError("PROVIDER_CONFIGURATION", detail)
    if isinstance(exc, ParamValidationError):
        # The SDK refused the request before sending it: the same job would be refused again.
        # Its report quotes the offending values (the body among them), so keep only the names.
        names = sorted(set(_PARAMETER_NAME.findall(str(exc))))
        return PermanentSendError(
            "PROVIDER_REJECTED:PARAM_VALIDATION", f"invalid parameters: {', '.join(names)}"
        )
    return RetryableSendError("PROVIDER_ERROR", detail)


def send_and_accept(
    *,
    provider: str,
    service: str,
    message: OutboundSms,
    call: Callable[[], Any],
    map_client_error: Callable[[ClientError], ProviderError],
) -> ProviderAccepted:
    """Make the provider call; map and log its failure, or return its message id."""
    try:
        response = call()
    except ClientError as exc:
        raise log_refusal(service, message, map_client_error(exc)) from exc
    except BotoCoreError as exc:
        raise log_refusal(service, message, transport_error(exc)) from exc
    message_id = str(response.get("MessageId", "") or "")
    if not message_id:
        # Accepted (HTTP 200) all the same; retrying would send a duplicate.
        logger.warning(
            f"{service} accepted a message without a MessageId",
            extra={"job_id": message.job_id, "to": mask_phone(message.to)},
        )
    return ProviderAccepted(provider=provider, message_id=message_id)


def log_refusal(service: str, message: OutboundSms, error: ProviderError) -> ProviderError:
    logger.warning(
        f"{service} refused a message",
        extra={
            "job_id": message.job_id,
            "to": mask_phone(message.to),
            "code": error.code,
            "retryable": isinstance(error, RetryableSendError),
            "outcome_unknown": isinstance(error, UnknownOutcomeError),
            "detail": error.detail,
        },
    )
    return error
