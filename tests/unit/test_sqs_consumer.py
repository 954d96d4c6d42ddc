"""Queue-body parsing and retry backoff of the SQS consumer, no network."""

from __future__ import annotations

import json
import random

import pytest

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
