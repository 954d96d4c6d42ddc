"""The HTTP API's Powertools resolver, shared by the public and the admin function.

Both refuse requests that bypass CloudFront or are too large before parsing, answer errors in
the API's shape (`{"code", "message"}`, plus `errors` for 422), 405 on a known path with
another method, and log unexpected errors without their detail reaching the caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from courier.http_api.errors import ApiError, FieldError, request_field_errors
from courier.http_api.origin import MAX_BODY_BYTES, check_request, expected_origin_secret
from courier.observability import logger, metrics
from courier.settings import get_settings


class CourierResolver(APIGatewayHttpResolver):
    """The resolver, refusing requests that bypass CloudFront or are too large before parsing."""

    _origin_check_logged = False
    # The largest body a path accepts (one limit for all unless build_resolver is told otherwise).
    body_limit: Callable[[str], int] = staticmethod(lambda path: MAX_BODY_BYTES)

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        settings = get_settings()
        expected = expected_origin_secret(settings)
        verify = settings.verify_cloudfront_origin
        if (expected is None or not verify) and not CourierResolver._origin_check_logged:
            if verify:
                logger.error(
                    "no ORIGIN_VERIFY_SECRET_ARN: every unsigned request is refused "
                    "(VERIFY_CLOUDFRONT_ORIGIN=false turns the check off without CloudFront)"
                )
            else:
                logger.warning("origin verification is off (VERIFY_CLOUDFRONT_ORIGIN=false)")
            CourierResolver._origin_check_logged = True
        try:
            path = str(event.get("rawPath") or "")
            check_request(
                event,
                expected_secret=expected,
                verify_origin=verify,
                max_body_bytes=self.body_limit(path),
            )
        except ApiError as error:
            return _proxy_response(error)
        result: dict[str, Any] = super().resolve(event, context)
        return result


def resolve_and_count(app: APIGatewayHttpResolver, event: Any, context: Any) -> dict[str, Any]:
    """`app.resolve`, counting the answer as ApiResponses2xx / 4xx / 5xx: the error rates the
    alarms watch (each function under its own service name)."""
    from aws_lambda_powertools.metrics import MetricUnit

    response: dict[str, Any] = app.resolve(event, context)
    status_class = int(response.get("statusCode", 500)) // 100
    metrics.add_metric(name=f"ApiResponses{status_class}xx", unit=MetricUnit.Count, value=1)
    return response


def _proxy_response(error: ApiError) -> dict[str, Any]:
    return {
        "statusCode": error.status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON, **error.headers},
        "body": json.dumps(error.body(), separators=(",", ":")),
        "isBase64Encoded": False,
        "cookies": [],
    }


def error_response(error: ApiError) -> Response[Any]:
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=error.body(),
        headers=error.headers or None,
    )


def route_patterns(
    routes: Mapping[str, frozenset[str]],
) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """A matcher per documented path (`{name}` matches one segment) and its methods."""
    return [
        (re.compile("^" + re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(path)) + "/?$"), methods)
        for path, methods in routes.items()
    ]


def build_resolver(
    routes: Mapping[str, frozenset[str]],
    body_field_errors: Callable[[object], list[FieldError]] | None = None,
    max_body_bytes: Callable[[str], int] | None = None,
) -> CourierResolver:
    """A validating resolver with the API's error handlers; `routes` gives 405's Allow header.

    `body_field_errors` words a body's validation errors in the API's own terms (the SMS jobs'
    per-job errors); without it, or when it finds none, Powertools' errors are mapped as they are.
    """
    app = CourierResolver(enable_validation=True)
    if max_body_bytes is not None:
        app.body_limit = max_body_bytes
    patterns = route_patterns(routes)

    def api_error(error: ApiError) -> Response[Any]:
        return error_response(error)

    def validation_error(error: RequestValidationError) -> Response[Any]:
        raw = list(error.errors())
        if any(tuple(e.get("loc", ()))[:1] == ("body",) for e in raw):
            try:
                data = json.loads(app.current_event.decoded_body or "")
            except ValueError:
                return error_response(ApiError(400, "invalid_json", "the body is not valid JSON"))
            found = body_field_errors(data) if body_field_errors else []
            problems = found or request_field_errors(raw)
        else:
            problems = request_field_errors(raw)
        return error_response(
            ApiError(422, "validation_error", "the request is not valid", errors=problems)
        )

    def not_found(_: NotFoundError) -> Response[Any]:
        method = app.current_event.http_method.upper()
        path = app.current_event.path
        for pattern, methods in patterns:
            if pattern.match(path) and method not in methods:
                allow = ", ".join(sorted(methods))
                return error_response(
                    ApiError(
                        405,
                        "method_not_allowed",
                        f"{method} is not allowed here; use {allow}",
                        headers={"Allow": allow},
                    )
                )
        return error_response(ApiError(404, "not_found", "no such route"))

    def unexpected(error: Exception) -> Response[Any]:
        logger.exception("unhandled error in the HTTP API")
        return error_response(ApiError(500, "internal_error", "something went wrong on our side"))

    app.exception_handler(ApiError)(api_error)
    app.exception_handler(RequestValidationError)(validation_error)
    app.exception_handler(Exception)(unexpected)
    app.not_found(not_found)
    return app
