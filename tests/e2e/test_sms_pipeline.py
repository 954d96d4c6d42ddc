"""SMS end to end: producer CLI -> SQS -> event source mapping -> sender -> sandbox provider."""

from __future__ import annotations

import time
import uuid

from local.clients import (
    POISON_BODY,
    dead_letters,
    outbox,
    send_jobs,
    send_poison,
    wait_for_statuses,
)
from local.seed import SEED_JOBS
from local.system import LocalSystem
from tests.e2e.conftest import Ledger


def _run_id() -> str:
    return uuid.uuid4().hex[:8]


def _accepted(system: LocalSystem, job_id: str) -> int:
    return sum(1 for line in outbox(system) if line["job_id"] == job_id)


def _wait_until_drained(system: LocalSystem, queue_url: str, *, timeout: float = 60) -> None:
    sqs = system.client("sqs")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        if all(int(value) == 0 for value in attributes.values()):
            return
        time.sleep(0.5)
    raise AssertionError(f"{queue_url} still holds messages after {timeout:.0f}s")


def test_seed_jobs_reach_their_outcomes(local_system: LocalSystem) -> None:
    # Given the jobs `make dev` seeds (one of them to the opted-out number)
    # When the senders have processed them
    records = wait_for_statuses(local_system, [job["job_id"] for job in SEED_JOBS])
    # Then two were sent and the opted-out one was refused without a provider call
    assert {job_id: r.status.value for job_id, r in records.items()} == {
        "seed-welcome-1": "SENT",
        "seed-campaign-1": "SENT",
        "seed-opted-out-1": "FAILED",
    }
    assert records["seed-opted-out-1"].reason == "OPTED_OUT"
    assert _accepted(local_system, "seed-opted-out-1") == 0


def test_producer_jobs_reach_the_sandbox_provider_with_status_records(
    local_system: LocalSystem, ledger: Ledger
) -> None:
    # Given a transactional job, a bulk job and one to an unassigned country code
    run = _run_id()
    jobs = [
        {"job_id": f"e2e-{run}-otp", "to": "+821012345678", "body": f"Code {run}"},
        {
            "job_id": f"e2e-{run}-bulk",
            "to": "+821087654321",
            "priority": "bulk",
            "body": f"Bulk {run}",
        },
        {"job_id": f"e2e-{run}-unassigned", "to": "+99912345678", "body": "nowhere"},
    ]
    # When the producer CLI queues them
    results = send_jobs(local_system, jobs)
    assert [r["status"] for r in results] == ["queued", "queued", "queued"]
    assert [r["queue"] for r in results] == ["transactional", "bulk", "transactional"]
    # Then each gets a status record through the real SQS event source mappings
    records = wait_for_statuses(local_system, [job["job_id"] for job in jobs])
    assert records[f"e2e-{run}-otp"].status.value == "SENT"
    assert records[f"e2e-{run}-bulk"].status.value == "SENT"
    assert records[f"e2e-{run}-bulk"].priority == "bulk"
    assert records[f"e2e-{run}-unassigned"].status.value == "FAILED"
    assert records[f"e2e-{run}-unassigned"].reason == "INVALID_NUMBER"
    assert records[f"e2e-{run}-otp"].provider_message_id.startswith("sandbox-")
    # And the sandbox provider holds exactly the sent ones, with their bodies
    lines = {line["job_id"]: line for line in outbox(local_system)}
    assert lines[f"e2e-{run}-otp"]["body"] == f"Code {run}"
    assert lines[f"e2e-{run}-bulk"]["to"] == "+821087654321"
    assert f"e2e-{run}-unassigned" not in lines
    ledger.job(f"e2e-{run}-otp", "transactional", "SENT")
    ledger.job(f"e2e-{run}-bulk", "bulk", "SENT")
    ledger.job(f"e2e-{run}-unassigned", "transactional", "FAILED", "INVALID_NUMBER")


def test_an_invalid_job_is_refused_by_the_producer_and_never_queued(
    local_system: LocalSystem,
) -> None:
    # Given a job whose number is not E.164
    job = {"job_id": f"e2e-{_run_id()}-bad", "to": "010-1234-5678", "body": "x"}
    # When the producer CLI is asked to queue it
    [result] = send_jobs(local_system, [job])
    # Then it reports the job invalid, with the field at fault
    assert result["status"] == "invalid"
    assert "to" in result["error"]["reason"]


def test_a_poison_message_lands_in_the_dead_letter_queue_with_its_reason(
    local_system: LocalSystem,
) -> None:
    # Given a message that is not even JSON, put on the queue by a buggy producer elsewhere
    message_id = send_poison(local_system)
    # When the sender receives it
    letters = dead_letters(local_system)
    # Then the DLQ holds its untouched body, with a failure code and a readable reason
    [letter] = [m for m in letters if m["Body"] == POISON_BODY]
    attributes = letter["MessageAttributes"]
    assert attributes["failure_code"]["StringValue"] == "MALFORMED_JSON"
    assert "not JSON" in attributes["failure_reason"]["StringValue"]
    assert message_id  # the producer's copy was accepted by SQS
    # And it was acknowledged, not left to be retried
    _wait_until_drained(local_system, local_system.outputs["SmsTransactionalQueueUrl"])


def test_a_duplicate_job_is_sent_once(local_system: LocalSystem, ledger: Ledger) -> None:
    # Given a job that has been sent
    job = {"job_id": f"e2e-{_run_id()}-dup", "to": "+821055501234", "body": "only once"}
    send_jobs(local_system, [job])
    wait_for_statuses(local_system, [job["job_id"]])
    # When a producer queues the same job again (a retry after a timeout, say)
    [again] = send_jobs(local_system, [job])
    assert again["status"] == "queued"
    _wait_until_drained(local_system, local_system.outputs["SmsTransactionalQueueUrl"])
    # Then the provider received it once, and its status stays SENT
    assert _accepted(local_system, job["job_id"]) == 1
    record = wait_for_statuses(local_system, [job["job_id"]])[job["job_id"]]
    assert record.status.value == "SENT"
    ledger.job(job["job_id"], "transactional", "SENT")
