"""Lambda handler: the HTTP API (API Gateway HTTP API, payload format 2.0) behind CloudFront."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.http_api.resolver import resolve_and_count
from courier.http_api.routes import app
from courier.observability import logger, metrics, tracer


@logger.inject_lambda_context(
    correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True
)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve_and_count(app, event, context)
