"""Fault injection: 2,000 jobs, 20% transient failures, 1% poison; nothing lost or doubled."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from courier.settings import get_settings
from courier.sms.numbers import is_valid_number
from courier.sms.providers.sandbox import SandboxProvider
from courier.sms.wiring import build_consumer
from tests.harness import ACCOUNT, REGION, SmsStack

JOBS = int(__import__("os").environ.get("FI_JOBS", "2000"))
POISON_EVERY = 100  # 1% of the jobs
QUEUE = "courier-sms-transactional"
MAX_RECEIVE_COUNT = 10
WINDOW = 100


def _poison_body(index: int) -> str:
    if (index // POISON_EVERY) % 2:
        return f'{{"job_id": "poison-{index}", "to": "+8210'  # cut-off JSON
    return json.dumps({"job_id": f"poison-{index}", "to": "not-a-number", "body": "x"})


def _mobile(rng: random.Random) -> str:
    """A random Korean mobile number that libphonenumber accepts as assigned."""
    while True:
        number = f"+8210{rng.randrange(2 * 10**7, 10**8):08d}"
        if is_valid_number(number):
            return number


def _as_lambda_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """What the SQS event source mapping hands the function for these received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    "ApproximateReceiveCount": m["Attributes"]["ApproximateReceiveCount"],
                    "SentTimestamp": m["Attributes"]["SentTimestamp"],
                },
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}",
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_two_thousand_jobs_through_failures_end_sent_once_or_dead_lettered(
    sms_stack: SmsStack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given 2,000 jobs on the queue, 1% of them poison, and a redrive policy as deployed
    sqs = sms_stack.sqs
    url = sms_stack.queue_urls[QUEUE]
    dlq_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{QUEUE}-dlq"
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVE_COUNT)}
            )
        },
    )
    rng = random.Random(7)
    valid_ids, poison_ids = [], []
    bodies = []
    for index in range(JOBS):
        if index % POISON_EVERY == POISON_EVERY - 1:
            poison_ids.append(f"poison-{index}")
            bodies.append(_poison_body(index))
        else:
            job_id = f"fi-{index:05d}"
            valid_ids.append(job_id)
            bodies.append(json.dumps({"job_id": job_id, "to": _mobile(rng), "body": "Code 1"}))
    # And a provider that fails 20% of calls transiently
    sandbox = SandboxProvider(failure_rate=0.2, seed=2026)
    consumer = build_consumer(get_settings(), provider=sandbox)

    # When the function consumes the queue, failed records coming back, until it drains
    # (jobs are fed in a window of ~100: moto's ReceiveMessage slows down with queue depth)
    invocations = item_failures = enqueued = deleted = 0
    while True:
        while enqueued < len(bodies) and enqueued - deleted < WINDOW:
            chunk = bodies[enqueued : enqueued + 10]
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(chunk)],
            )
            enqueued += len(chunk)
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", [])
        if not messages:
            break
        response = consumer.process_batch(_as_lambda_event(messages), None)
        invocations += 1
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        item_failures += len(failed)
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                deleted += 1
        assert invocations < 2000, "the queue does not drain"

    # Then every valid job is SENT, accepted by the provider exactly once
    statuses = sms_stack.status_items()
    sent = [job for job in valid_ids if statuses.get(job, {}).get("status") == "SENT"]
    accepted = sandbox.successes_by_job
    transient = sandbox.calls - sum(accepted.values())
    # And every poison job is in the DLQ with its reason, and nothing else is
    dead = sms_stack.drain(f"{QUEUE}-dlq")
    dead_codes = Counter(m["MessageAttributes"]["failure_code"]["StringValue"] for m in dead)
    dead_ids = set()
    for m in dead:
        assert m["MessageAttributes"]["failure_reason"]["StringValue"]
        dead_ids.add(next(p for p in poison_ids if f'"{p}"' in m["Body"]))
    lost = len(valid_ids) - len(sent) + len(poison_ids) - len(dead_ids)
    with capsys.disabled():
        print(
            f"\nfault-injection: jobs={JOBS} valid={len(valid_ids)} poison={len(poison_ids)} "
            f"sent={len(sent)} provider_accepts={sum(accepted.values())} "
            f"transient_failures={transient} batch_item_failures={item_failures} "
            f"invocations={invocations} dead_lettered={len(dead)} "
            f"dead_letter_codes={dict(dead_codes)} lost={lost}"
        )
    assert len(sent) == len(valid_ids) == 1980
    assert set(accepted) == set(valid_ids)
    assert set(accepted.values()) == {1}
    assert transient > 300  # the failures really happened (≈ 20% of ≈ 2,475 calls)
    assert item_failures == transient
    assert dead_ids == set(poison_ids)
    assert len(dead) == len(poison_ids) == 20
    assert lost == 0
