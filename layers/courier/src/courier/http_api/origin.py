"""Checks made before the resolver parses anything: the CloudFront origin header, body size."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from courier.http_api.errors import ApiError

if TYPE_CHECKING:
    from courier.settings import Settings

ORIGIN_HEADER: Final = "x-origin-verify"
MAX_BODY_BYTES: Final = 256 * 1024


def expected_origin_secret(settings: Settings) -> str | None:
    """The value CloudFront adds as `x-origin-verify`; None when no secret is configured."""
    if settings.origin_verify_secret_arn:
        from courier.secret_store import secret_value

        return secret_value(settings.origin_verify_secret_arn, json_key="value")
    return settings.origin_verify_secret or None


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def body_size(event: Mapping[str, Any]) -> int:
    body = event.get("body")
    if not body:
        return 0
    if event.get("isBase64Encoded"):
        try:
            return len(base64.b64decode(body, validate=False))
        except (binascii.Error, ValueError):
            return len(body)
    return len(str(body).encode())


def check_request(
    event: Mapping[str, Any],
    *,
    expected_secret: str | None,
    verify_origin: bool,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> None:
    """Raise ApiError (403, 413) for a request the resolver must not see.

    The origin check fails closed: with `verify_origin` on and no secret configured, every
    unsigned request is refused; only `verify_origin=False` (a stack without CloudFront) lets
    them through. A request API Gateway already authorized with SigV4 (IAM) is exempt from the
    origin header: CloudFront cannot sign requests, so services call those routes on the API's
    own URL.
    """
    iam_signed = bool(((event.get("requestContext") or {}).get("authorizer") or {}).get("iam"))
    if verify_origin and not iam_signed:
        given = header(event.get("headers"), ORIGIN_HEADER) or ""
        if expected_secret is None or not hmac.compare_digest(
            given.encode(), expected_secret.encode()
        ):
            raise ApiError(403, "origin_not_allowed", "requests must come through CloudFront")
    size = body_size(event)
    if size > max_body_bytes:
        raise ApiError(
            413, "payload_too_large", f"the body is {size} bytes; at most {max_body_bytes}"
        )
