"""The HTTP API's stats routes: one day's DailyStats numbers, and ranges of the stats history.

Both read through the shared stats cache (`courier.stats.read_cache`): a cache outage is a
slower answer, never an error. The history lives in Aurora MySQL (its reader); a database that
cannot be reached is 503 `database_unavailable` with a Retry-After.
"""

from __future__ import annotations

from datetime import date as calendar_date
from typing import Annotated, Any, Final

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

from courier.data.errors import DatabaseUnavailable
from courier.http_api import wiring
from courier.http_api.errors import ApiError, error_responses
from courier.http_api.models import StatsOut, StatsRangeOut
from courier.settings import get_settings
from courier.stats.contract import DAY_PATTERN
from courier.stats.history import GROUPS, MAX_RANGE_DAYS, InvalidRange, check_range
from courier.stats.wiring import record_cache_metrics

RETRY_AFTER_SECONDS: Final = 5

router = APIGatewayHttpRouter()  # type: ignore[no-untyped-call]


def _day(value: str | None, name: str) -> calendar_date:
    """A YYYY-MM-DD calendar day, or 400 invalid_date naming the parameter."""
    try:
        if value is None or not DAY_PATTERN.fullmatch(value):
            raise ValueError(value)
        return calendar_date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "invalid_date", f"{name} must be a day written YYYY-MM-DD") from None


@router.get(
    "/api/stats",
    summary="Read the stats history over a range of days",
    description="Sums of the daily statistics from `from` to `to` (inclusive, days in the "
    f"service timezone, at most {MAX_RANGE_DAYS} days), per day, ISO week or calendar month. "
    "Only periods holding a stored day are listed. 422 `validation_error` without `from` or "
    "`to`; 400 `invalid_date` for a malformed day; 400 `invalid_range` for a range that ends "
    "before it starts, is too long, or an unknown group; 503 `database_unavailable` when the "
    "history cannot be read now (retry after Retry-After seconds).",
    tags=["stats"],
    responses={
        200: {
            "description": "The periods of the range",
            "content": {"application/json": {"model": StatsRangeOut}},
        },
        **error_responses(400, 403, 405, 422, 503),
    },
)
def stats_range(
    first: Annotated[str, Query(alias="from", description="First day, YYYY-MM-DD")],
    last: Annotated[str, Query(alias="to", description="Last day, YYYY-MM-DD, inclusive")],
    group: Annotated[str, Query(description=f"One of {', '.join(GROUPS)}")] = "day",
) -> Response[dict[str, Any]]:
    start, end = _day(first, "from"), _day(last, "to")
    try:
        checked = check_range(start, end, group)
    except InvalidRange as error:
        raise ApiError(400, "invalid_range", str(error)) from None
    settings = get_settings()
    history = wiring.stats_history(settings)
    try:
        periods = history.range_summary(start, end, checked)
    except DatabaseUnavailable:
        raise ApiError(
            503,
            "database_unavailable",
            "the stats history cannot be read right now; try again shortly",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None
    finally:
        record_cache_metrics(history.cache)
    body = StatsRangeOut.model_validate(
        {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "group": checked,
            "timezone": settings.service_timezone,
            "periods": periods,
        }
    )
    return Response(
        status_code=200,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump(mode="json", by_alias=True),
    )


@router.get(
    "/api/stats/<date>",
    summary="Read a day's statistics",
    description="The DailyStats numbers the nightly batch stored for a day (YYYY-MM-DD): "
    "aggregate counts without personal data, readable by the web app through CloudFront.",
    tags=["stats"],
    responses={
        200: {"description": "The day's numbers"},
        **error_responses(400, 403, 404, 405, 422),
    },
)
def daily_stats(date: str) -> StatsOut:
    day = _day(date, "the date").isoformat()
    reader = wiring.cached_stats_reader(get_settings())
    try:
        item = reader.get(day)
    finally:
        record_cache_metrics(reader.cache)
    if item is None:
        raise ApiError(404, "stats_not_found", f"no statistics for {day}")
    return StatsOut.model_validate(item)
