"""Lambda handler, stats plan step: `{}` or `{"date": "YYYY-MM-DD"}` → the days and their shards.

`{}` (the schedule) plans yesterday and the STATS_LATE_RECEIPT_DAYS days before it, newest first;
a date plans that day alone. Raises InvalidStatsInput (not retried by the state machine) for a
malformed, impossible, current or future date.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from courier.observability import logger, tracer
from courier.stats.contract import PlanRequest
from courier.stats.errors import InvalidStatsInput
from courier.stats.wiring import stats_planner
from courier.validation import describe_problems


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise InvalidStatsInput("the execution input must be a JSON object")
    try:
        request = PlanRequest.model_validate(event)
    except ValidationError as error:
        raise InvalidStatsInput(f"invalid stats input: {describe_problems(error)}") from None
    result = stats_planner().plan(request)
    logger.info(
        "stats days planned",
        extra={
            "days": [day.date for day in result.days],
            "shards_per_day": len(result.days[0].shards),
        },
    )
    return result.model_dump(mode="json")
