"""The SmsMessages stream's Lambda event → the counter's `StreamChange`s (images deserialised)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from courier.stats.stream_counts import EventName, StreamChange

_NAMES: frozenset[str] = frozenset({"INSERT", "MODIFY", "REMOVE"})


class MalformedStreamEvent(ValueError):
    """A record without an event id, a known event name or its stream record."""


def stream_changes(event: dict[str, Any]) -> list[StreamChange]:
    """The batch's records in stream order, images as plain values (numbers as Decimal)."""
    changes: list[StreamChange] = []
    for record in DynamoDBStreamEvent(event).records:
        name = record.event_name.name if record.event_name else None
        stream = record.dynamodb
        if not record.event_id or name not in _NAMES or stream is None:
            raise MalformedStreamEvent(f"not a DynamoDB stream record: {record.event_id!r}")
        event_name: EventName = name  # type: ignore[assignment]  # checked against _NAMES
        changes.append(
            StreamChange(
                event_id=record.event_id,
                event_name=event_name,
                old=stream.old_image or None,
                new=stream.new_image or None,
            )
        )
    return changes
