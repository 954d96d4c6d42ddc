"""Lambda handler, `Custom::DatabaseMigrations`: database, application user, migrations.

Create and Update run `courier.data.bootstrap` (idempotent); Delete does nothing, so a stack
deletion or a rollback never drops data. Every request is answered (courier.custom_resource).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.custom_resource import CustomResourceRequest, answer
from courier.observability import logger, tracer


def _migrate(request: CustomResourceRequest) -> dict[str, Any]:
    from courier.data.bootstrap import bootstrap_from_settings
    from courier.settings import get_settings

    result = bootstrap_from_settings(get_settings())
    logger.info(
        "database ready",
        extra={"request_type": request.request_type, "applied": result.applied},
    )
    return {"Applied": ",".join(result.applied), "Database": result.database}


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    status = answer(
        event,
        _migrate,
        remaining_seconds=context.get_remaining_time_in_millis() / 1000,
        on_error=lambda error: logger.exception("database migration failed"),
    )
    return {"Status": status}
