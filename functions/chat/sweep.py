"""Scheduled Lambda handler: forgets connections whose expiry passed without a $disconnect."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.chat.wiring import publish_counts, sweeper
from courier.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    channel = sweeper()
    swept = channel.sweep()
    publish_counts(channel)
    return {"swept": swept}
