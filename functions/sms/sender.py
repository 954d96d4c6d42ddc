"""Lambda handler: SmsJob records from an SMS queue → sends, with partial batch failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.observability import logger, metrics, tracer
from courier.sms.wiring import sms_consumer


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return sms_consumer().process_batch(event, context)
