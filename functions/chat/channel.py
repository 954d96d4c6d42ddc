"""Lambda handler for the join, leave, send, history and ping routes (and $default)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.chat.frames import FrameError, parse_client_frame
from courier.chat.websocket_events import WebSocketEvent, ok
from courier.chat.wiring import channel_for, publish_counts
from courier.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = WebSocketEvent.model_validate(event)
    connection_id = parsed.request_context.connection_id
    channel = channel_for(parsed.request_context.as_dict())
    try:
        frame = parse_client_frame(parsed.text())
    except FrameError as error:
        # A bad frame gets an error frame; the connection stays open.
        channel.reply(connection_id, error.to_event())
    else:
        channel.handle(connection_id, frame)
    publish_counts(channel)
    return ok()
