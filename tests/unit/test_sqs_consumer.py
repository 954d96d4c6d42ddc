"""Queue-body parsing and retry backoff of the SQS consumer, no network."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from courier import observability
from courier.sms.delivery import PoisonJob
from courier.sms.sqs_consumer import SqsJobConsumer, parse_job


@pytest.mark.parametrize(
    ("body", "code", "mentions"),
    [
        ('{"job_id": "a", "to": ', "MALFORMED_JSON", "not JSON"),
        ("[1, 2]", "SCHEMA_VIOLATION", "not a JSON object"),
        (json.dumps({"schema_version": 2, "job_id": "a"}), "UNSUPPORTED_VERSION", "2"),
        (json.dumps({"job_id": "a", "to": "010", "body": "x"}), "SCHEMA_VIOLATION", "to:"),
        (json.dumps({"job_id": "a", "to": "+821012345678"}), "SCHEMA_VIOLATION", "body:"),
        (
            json.dumps({"job_id": "a", "to": "+821012345678", "body": "x", "extra": 1}),
            "SCHEMA_VIOLATION",
            "extra:",
        ),
    ],
)
def test_bad_bodies_are_poison_with_a_precise_reason(body: str, code: str, mentions: str) -> None:
    # When a bad body is parsed, Then it is poison with a code and a reason naming the problem
    with pytest.raises(PoisonJob) as raised:
        parse_job(body)
    assert raised.value.code == code
    assert mentions in raised.value.detail


def test_a_good_body_parses_into_the_contract() -> None:
    job = parse_job(json.dumps({"job_id": "a", "to": "+821012345678", "body": "hi"}))
    assert (job.job_id, job.priority.value) == ("a", "transactional")


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    # Given a consumer with a 5 s base and a 15-minute cap
    consumer = SqsJobConsumer(
        sender=None,  # type: ignore[arg-type]
        queues=None,  # type: ignore[arg-type]
        concurrency=1,
        retry_base_seconds=5,
        retry_max_seconds=900,
        rng=random.Random(1),
    )

    # When backoffs are drawn for successive receive counts
    draws = {n: [consumer.backoff_seconds(n) for _ in range(50)] for n in (1, 2, 3, 10, 20)}

    # Then each lies in [step/2, step] with the step doubling, never past the cap
    for n, step in ((1, 5), (2, 10), (3, 20), (10, 900), (20, 900)):
        assert all(step // 2 <= d <= step for d in draws[n]), (n, draws[n])
    assert len(set(draws[10])) > 10  # jittered, not one fixed value


class WaitingSender:
    """A sender whose every job must wait (the rate budget is spent)."""

    def deliver(self, job: object) -> object:
        from courier.sms.delivery import DeferJob

        raise DeferJob("RATE_LIMITED", 12.0)

    def take_rate_limit_degraded(self) -> int:
        return 0


class RecordingQueues:
    def __init__(self) -> None:
        self.requeued: list[tuple[str, float, int]] = []
        self.backed_off: list[int] = []

    def requeue(self, *, queue_arn: str, body: str, delay_seconds: float, deferrals: int) -> None:
        self.requeued.append((body, delay_seconds, deferrals))

    def back_off(self, *, queue_arn: str, receipt_handle: str, seconds: int) -> None:
        self.backed_off.append(seconds)


def _record(deferrals: int | None, receive_count: int = 4) -> dict[str, object]:
    from tests.harness import load_event

    record: dict[str, object] = dict(load_event("sms/sender-valid.json")["Records"][0])
    record["attributes"] = {"ApproximateReceiveCount": str(receive_count)}
    record["messageAttributes"] = (
        {"courier_deferrals": {"stringValue": str(deferrals), "dataType": "Number"}}
        if deferrals is not None
        else {}
    )
    return record


def _waiting_consumer(queues: RecordingQueues) -> SqsJobConsumer:
    """A consumer whose every job must wait, allowed three deferrals."""
    return SqsJobConsumer(
        WaitingSender(),  # type: ignore[arg-type]
        queues,  # type: ignore[arg-type]
        concurrency=2,
        retry_base_seconds=5,
        retry_max_seconds=900,
        max_deferrals=3,
        rng=random.Random(1),
    )


def test_a_job_that_must_wait_is_requeued_with_a_delay_and_acknowledged() -> None:
    # Given a job received for the fourth time (one receive short of the DLQ) that must wait
    queues = RecordingQueues()
    consumer = _waiting_consumer(queues)

    # When it is processed
    response = consumer.process_batch({"Records": [_record(None)]}, None)

    # Then it is acknowledged (its receive count cannot reach maxReceiveCount) and put back as a
    # new message after the wait, with one deferral counted
    assert response["batchItemFailures"] == []
    [(body, delay, deferrals)] = queues.requeued
    assert json.loads(body)["job_id"]
    assert 12.0 <= delay <= 18.0
    assert deferrals == 1
    assert consumer.last_batch_counts["deferred"] == 1


def test_a_job_deferred_too_often_takes_the_ordinary_retry_path() -> None:
    # Given a job already deferred as often as allowed
    queues = RecordingQueues()
    consumer = _waiting_consumer(queues)

    # When it must wait once more
    response = consumer.process_batch({"Records": [_record(3, receive_count=1)]}, None)

    # Then it is not re-queued but failed back to its queue with a backoff (the redrive policy
    # bounds it from here)
    assert len(response["batchItemFailures"]) == 1
    assert queues.requeued == []
    assert len(queues.backed_off) == 1


class ThrottledStoreSender(WaitingSender):
    """A sender whose status table is throttled past the SDK's retries."""

    def deliver(self, job: object) -> object:
        from botocore.exceptions import ClientError

        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
            "PutItem",
        )


def test_a_throttled_store_defers_the_job_instead_of_burning_a_receive() -> None:
    # Given a job on its fourth receive whose status write is throttled
    queues = RecordingQueues()
    consumer = SqsJobConsumer(
        ThrottledStoreSender(),  # type: ignore[arg-type]
        queues,  # type: ignore[arg-type]
        concurrency=2,
        retry_base_seconds=5,
        retry_max_seconds=900,
        rng=random.Random(1),
    )

    # When it is processed
    response = consumer.process_batch({"Records": [_record(2)]}, None)

    # Then it is acknowledged and put back after the backoff for its third deferral
    assert response["batchItemFailures"] == []
    [(_, delay, deferrals)] = queues.requeued
    assert deferrals == 3
    assert 10 <= delay <= 30


def test_only_aws_throttling_5xx_and_transport_failures_are_transient() -> None:
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyPersistenceLayerError,
    )
    from botocore.exceptions import ClientError, ReadTimeoutError

    from courier.aws_errors import is_transient

    def client_error(code: str, status: int) -> ClientError:
        return ClientError(
            {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutItem"
        )

    wrapped = IdempotencyPersistenceLayerError("Failed to save")
    wrapped.__cause__ = client_error("ThrottlingException", 400)
    assert is_transient(client_error("ProvisionedThroughputExceededException", 400))
    assert is_transient(client_error("InternalServerError", 500))
    assert is_transient(ReadTimeoutError(endpoint_url="https://dynamodb"))
    assert is_transient(wrapped)
    assert not is_transient(client_error("ValidationException", 400))
    assert not is_transient(client_error("AccessDeniedException", 400))
    assert not is_transient(ValueError("a bug"))


def test_a_batch_publishes_the_alarm_inputs_and_only_the_other_counts_that_happened(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the consumer's metrics recorded, and a job that must wait
    published: dict[str, float] = {}

    class RecordingMetrics:
        def add_metric(self, *, name: str, unit: Any, value: float) -> None:
            published[name] = published.get(name, 0) + value

    monkeypatch.setattr(observability, "metrics", RecordingMetrics())
    consumer = _waiting_consumer(RecordingQueues())

    # When the batch is processed
    consumer.process_batch({"Records": [_record(None)]}, None)

    # Then the failure-rate alarm's inputs are published even at zero, the deferral is counted,
    # and no other zero is published (each name is bytes in every invocation's EMF line)
    assert published == {"SmsSent": 0, "SmsFailed": 0, "SmsDeferred": 1}
