"""Lambda handler for $connect: records the authorized connection (table and Redis)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.chat.presence import Session
from courier.chat.websocket_events import AuthorizerContext, WebSocketEvent, ok
from courier.chat.wiring import channel_for, publish_counts
from courier.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = WebSocketEvent.model_validate(event).request_context
    claims = AuthorizerContext.model_validate(request.authorizer or {})
    channel = channel_for(request.as_dict())
    channel.open(
        Session(
            connection_id=request.connection_id,
            sub=claims.sub,
            name=claims.name,
            room_patterns=claims.room_patterns(),
        )
    )
    publish_counts(channel)
    return ok()
