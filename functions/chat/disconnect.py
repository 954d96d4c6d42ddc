"""Lambda handler for $disconnect: forgets the connection everywhere and tells its rooms."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.chat.websocket_events import WebSocketEvent, ok
from courier.chat.wiring import channel_for, publish_counts
from courier.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = WebSocketEvent.model_validate(event).request_context
    channel = channel_for(request.as_dict())
    channel.close(request.connection_id)
    publish_counts(channel)
    return ok()
