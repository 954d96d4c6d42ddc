"""Partial batch responses of courier.sqs_batch (what replaced Powertools' batch utility)."""

from __future__ import annotations

import asyncio

import pytest

from courier.sqs_batch import (
    SqsRecord,
    async_process_partial_response,
    process_partial_response,
)


def _event(*ids: str) -> dict[str, object]:
    return {
        "Records": [
            {
                "messageId": message_id,
                "receiptHandle": f"rh-{message_id}",
                "body": message_id,
                "eventSourceARN": "arn:aws:sqs:ap-northeast-2:123456789012:q",
                "attributes": {"ApproximateReceiveCount": "2"},
                "messageAttributes": {"courier_deferrals": {"stringValue": "3"}},
            }
            for message_id in ids
        ]
    }


def test_only_the_records_that_raised_are_reported_in_order() -> None:
    # Given a handler that fails on two of four records
    seen: list[str] = []

    def handle(record: SqsRecord) -> None:
        seen.append(record.body)
        if record.body in ("b", "d"):
            raise RuntimeError("boom")

    # When the batch is processed
    response = process_partial_response(_event("a", "b", "c", "d"), handle)
    # Then every record was handled, in turn, and exactly the failed ones are reported
    assert seen == ["a", "b", "c", "d"]
    assert response == {"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "d"}]}


def test_a_batch_that_fails_entirely_is_reported_not_raised() -> None:
    def handle(record: SqsRecord) -> None:
        raise ValueError(record.message_id)

    response = process_partial_response(_event("a", "b"), handle)
    assert response == {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}


def test_async_handlers_run_concurrently_and_fail_per_record() -> None:
    # Given an async handler that waits for all three records to have started
    started: list[str] = []
    all_started = asyncio.Event()

    async def handle(record: SqsRecord) -> None:
        started.append(record.message_id)
        if len(started) == 3:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), timeout=5)
        if record.message_id == "b":
            raise RuntimeError("boom")

    # When the batch is processed
    response = async_process_partial_response(_event("a", "b", "c"), handle)
    # Then they ran at once (one at a time would time out) and only "b" is retried
    assert sorted(started) == ["a", "b", "c"]
    assert response == {"batchItemFailures": [{"itemIdentifier": "b"}]}


def test_a_record_exposes_the_fields_the_consumers_read() -> None:
    record = SqsRecord(_event("m-1")["Records"][0])  # type: ignore[index]
    assert (record.message_id, record.receipt_handle, record.body) == ("m-1", "rh-m-1", "m-1")
    assert record.event_source_arn.endswith(":q")
    assert record.approximate_receive_count == "2"
    assert record.string_attribute("courier_deferrals") == "3"
    assert record.string_attribute("absent") is None


def test_an_event_without_records_is_refused() -> None:
    with pytest.raises(ValueError, match="no Records"):
        process_partial_response({"Records": []}, lambda record: None)
