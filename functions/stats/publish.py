"""Lambda handler, stats publish step: the day's partials → DailyStats item + JSON/CSV reports,
the day's row in the stats history (Aurora), and a new generation of the stats read cache.

Input `{"date", "run", "partials": [<this run's aggregate outputs>]}`; output `{"date", "summary",
"report_json", "report_csv"}` (the summary is the notification's one line).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.observability import logger, metrics, tracer
from courier.stats.contract import PublishRequest
from courier.stats.wiring import record_cache_metrics, stats_cache, stats_publisher


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = PublishRequest.model_validate(event)
    try:
        result = stats_publisher().publish(request)
    finally:
        record_cache_metrics(stats_cache())
    metrics.add_metric(name="StatsDaysPublished", unit=MetricUnit.Count, value=1)
    logger.info("stats day published", extra=result.model_dump())
    return result.model_dump(mode="json")
