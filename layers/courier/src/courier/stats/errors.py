"""The errors the state machine tells apart by name (`errorType` is the exception's class name)."""

from __future__ import annotations


class InvalidStatsInput(ValueError):
    """The run's input names no valid past day: fails the plan step, never retried.

    The name (no `Error` suffix) is the state machine's contract: keep it.
    """


class TransientStatsError(RuntimeError):
    """Storage trouble worth another attempt (throttling, 5xx, connection loss): retried."""


class PartialsMismatch(ValueError):
    """The publish input does not match the plan or the stored partials: not retried."""


class MissingObject(LookupError):
    """An object the step needs is not in the bucket."""


# DynamoDB and S3 error codes that mean "try again later", whatever the HTTP status says.
TRANSIENT_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "InternalServerError",
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
    }
)


def is_transient(error: BaseException) -> bool:
    """True for a botocore error that a later attempt may not meet (after boto3's own retries)."""
    from botocore.exceptions import (
        ClientError,
        HTTPClientError,
        IncompleteReadError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError

    # Connection refused/reset/closed, timeouts, a response cut short.
    if isinstance(error, BotoConnectionError | HTTPClientError | IncompleteReadError):
        return True
    if isinstance(error, ClientError):
        response = error.response
        code = response.get("Error", {}).get("Code", "")
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return code in TRANSIENT_CODES or status >= 500
    return False


def raise_if_transient(error: BaseException, doing: str) -> None:
    """Re-raise `error` as TransientStatsError (`doing` says what failed) when a later attempt
    may succeed; otherwise return, and the caller re-raises it as it is."""
    if is_transient(error):
        raise TransientStatsError(f"{doing}: {error}") from error
