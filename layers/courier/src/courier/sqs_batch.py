"""SQS batches with partial failures: records handled concurrently, failed ones reported back.

Hand-written instead of Powertools' batch utility, which the sender used before: importing it
loads every event data class of Powertools and, once pydantic is loaded (always, here), builds
its parser's SQS, DynamoDB, Kinesis and Kafka models, about 0.1 s of each cold start for what
is here a loop (or one `asyncio.gather`) and a list of message ids. The behaviour is that of
Powertools' (Async)BatchProcessor for SQS with `raise_on_entire_batch_failure=False`: every
record's handler runs, a record whose handler raises is reported in `batchItemFailures` (even
when all of them fail), and Lambda deletes the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypedDict


class ItemFailure(TypedDict):
    itemIdentifier: str


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[ItemFailure]


class SqsRecord:
    """One record of an SQS event, read as needed (a missing field fails that record only)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw

    @property
    def message_id(self) -> str:
        return str(self._raw["messageId"])

    @property
    def receipt_handle(self) -> str:
        return str(self._raw["receiptHandle"])

    @property
    def body(self) -> str:
        return str(self._raw["body"])

    @property
    def event_source_arn(self) -> str:
        return str(self._raw["eventSourceARN"])

    @property
    def approximate_receive_count(self) -> str:
        return str(self._raw["attributes"]["ApproximateReceiveCount"])

    def string_attribute(self, name: str) -> str | None:
        """The message attribute `name`'s string value; None when the message has none."""
        attribute = self._raw["messageAttributes"].get(name)
        return None if attribute is None else attribute.get("stringValue")


def process_partial_response(
    event: Mapping[str, Any], handle_record: Callable[[SqsRecord], object]
) -> PartialBatchResponse:
    """Run `handle_record` on each record of the SQS `event` in turn; report those that raised."""
    records = _records(event)
    return _response(records, [_failed(handle_record, raw) for raw in records])


def async_process_partial_response(
    event: Mapping[str, Any], handle_record: Callable[[SqsRecord], Awaitable[object]]
) -> PartialBatchResponse:
    """Run `handle_record` on every record of the SQS `event` at once; report those that raised."""
    records = _records(event)

    async def failed(raw: Mapping[str, Any]) -> bool:
        try:
            await handle_record(SqsRecord(raw))
        except Exception:
            return True
        return False

    async def handle_all() -> list[bool]:
        return list(await asyncio.gather(*(failed(raw) for raw in records)))

    # A fresh loop per batch: nothing outlives an invocation that a frozen environment could
    # leave bound to a stale loop.
    return _response(records, asyncio.run(handle_all()))


def _records(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    records = event.get("Records")
    if not records or not isinstance(records, list):
        raise ValueError("not an SQS batch: the event has no Records")
    return records


def _failed(handle_record: Callable[[SqsRecord], object], raw: Mapping[str, Any]) -> bool:
    try:
        handle_record(SqsRecord(raw))
    except Exception:
        # The handler logs what it needs; SQS retries the record (then its redrive policy).
        return True
    return False


def _response(records: list[Mapping[str, Any]], failures: list[bool]) -> PartialBatchResponse:
    return {
        "batchItemFailures": [
            {"itemIdentifier": str(raw["messageId"])}
            for raw, failed in zip(records, failures, strict=True)
            if failed
        ]
    }
