"""Lambda handler, SMS stats counter: a batch of SmsMessages stream records → the day partials.

Invoked by the table's stream event source mapping (INSERT and MODIFY only; REMOVE records,
TTL expiry included, are filtered out). Each batch's signed deltas are put as one partial per
day, keyed by its first record, so a retried or bisected batch never counts twice
(courier.stats.stream_counts). Any error fails the batch: the mapping retries it, bisects it,
and sends what still fails to the counter's failure queue (docs/runbooks/sms-stats-counter.md).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.observability import logger, metrics, tracer
from courier.stats.stream_event import stream_changes
from courier.stats.wiring import sms_stats_counter


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    counted = sms_stats_counter().count(stream_changes(event))
    metrics.add_metric(name="SmsStatsRecordsCounted", unit=MetricUnit.Count, value=counted.records)
    logger.info(
        "sms stats batch counted",
        extra={"batch": counted.batch, "records": counted.records, "days": counted.days},
    )
    return {"records": counted.records, "days": counted.days}
