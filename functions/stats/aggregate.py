"""Lambda handler, stats aggregate step: one day-shard → a partial aggregate in S3 + a pointer.

Input `{"date", "source": "sms"|"chat", "shard", "run"}` (run: the execution name); output
`{"source", "shard", "records", "partial_key"}`. Storage trouble worth a retry raises
TransientStatsError.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.observability import logger, metrics, tracer
from courier.stats.contract import AggregateRequest
from courier.stats.wiring import stats_aggregator


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = AggregateRequest.model_validate(event)
    result = stats_aggregator().aggregate(task)
    metrics.add_metric(name="StatsRecordsAggregated", unit=MetricUnit.Count, value=result.records)
    logger.info("stats shard aggregated", extra={"date": task.date, **result.model_dump()})
    return result.model_dump(mode="json")
