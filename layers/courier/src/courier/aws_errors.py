"""Which AWS SDK failures are transient: throttling, 5xx and dropped connections, worth trying again
later without counting against the message that met them."""

from __future__ import annotations

# Codes every AWS API may return regardless of its own model (DynamoDB's own throttling among them).
THROTTLING_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
    }
)


def is_condition_failed(error: BaseException) -> bool:
    """Whether `error` is DynamoDB refusing a write because its condition did not hold."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code")
    return bool(code == "ConditionalCheckFailedException")


def is_transient(error: BaseException | None) -> bool:
    """Whether `error` (or what it wraps) is an AWS service or transport failure that passes."""
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, ClientError):
            code = error.response.get("Error", {}).get("Code", "")
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            return code in THROTTLING_CODES or status >= 500
        if isinstance(error, BotoConnectionError | HTTPClientError):
            return True
        # Powertools wraps store failures (IdempotencyPersistenceLayerError ... from cause).
        error, seen = error.__cause__, seen + 1
    return False
