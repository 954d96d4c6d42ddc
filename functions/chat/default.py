"""Lambda handler for $default: frames no route matched get an error frame, nothing else."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.chat.fanout import GoneConnection
from courier.chat.frames import (
    VALID_ACTIONS,
    ErrorCode,
    FrameError,
    encode_event,
    parse_client_frame,
)
from courier.chat.websocket_events import WebSocketEvent, ok
from courier.chat.wiring import poster_for
from courier.observability import logger


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    parsed = WebSocketEvent.model_validate(event)
    try:
        frame = parse_client_frame(parsed.text())
        refused = FrameError(
            ErrorCode.UNKNOWN_ACTION, f"no route for action {frame.action!r}", frame.action
        )
    except FrameError as error:
        refused = error
    # $default always lists the valid actions: whatever was wrong, that is what to send instead.
    reply = refused.to_event().model_copy(update={"valid_actions": list(VALID_ACTIONS)})
    # The connection stays open: only this frame is refused.
    connection_id = parsed.request_context.connection_id
    try:
        poster_for(parsed.request_context.as_dict()).post(connection_id, encode_event(reply))
    except GoneConnection:
        # The client left before its error frame: nobody to tell; $disconnect cleans up after it.
        logger.info("connection gone before its error frame", extra={"code": refused.code})
    return ok()
