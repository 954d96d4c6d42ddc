"""Lambda handler: the campaign launcher (SQS campaign-launch queue, one message at a time)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from courier.campaigns.launcher import handle_launch_message
from courier.observability import logger, metrics, tracer
from courier.settings import get_settings

if TYPE_CHECKING:
    from courier.campaigns.launch_queue import SqsLaunchQueue
    from courier.campaigns.store import MySqlCampaignStore
    from courier.sms.producer import SmsProducer

processor = BatchProcessor(event_type=EventType.SQS)


@cache
def _adapters() -> tuple[MySqlCampaignStore, SmsProducer, SqsLaunchQueue]:
    from courier.campaigns.launch_queue import SqsLaunchQueue
    from courier.campaigns.store import MySqlCampaignStore
    from courier.data.connections import shared_database
    from courier.sms.producer import SmsProducer

    settings = get_settings()
    return (
        MySqlCampaignStore(shared_database()),
        SmsProducer.from_settings(settings),
        SqsLaunchQueue.from_settings(settings),
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    store, producer, queue = _adapters()

    def launch(record: SQSRecord) -> None:
        handle_launch_message(
            record.body,
            store,
            producer,
            queue,
            clock=lambda: datetime.now(UTC),
            time_left=lambda: context.get_remaining_time_in_millis() / 1000,
        )

    response = process_partial_response(
        event=event, record_handler=launch, processor=processor, context=context
    )
    return dict(response)
