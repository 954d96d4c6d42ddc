"""The producer library: validate first, batches of 10, routing, retry only failed entries."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import ANY, Stubber

from courier.sms.contract import Priority, SmsJob
from courier.sms.producer import (
    MAX_BATCH_BYTES,
    JobError,
    JobResult,
    RetryPolicy,
    SmsProducer,
    _entry_size,
    message_body,
    send_jobs,
    validate_jobs,
)

ROOT = Path(__file__).resolve().parents[2]
T_URL = "https://sqs.ap-northeast-2.amazonaws.com/123456789012/sms-transactional"
B_URL = "https://sqs.ap-northeast-2.amazonaws.com/123456789012/sms-bulk"
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
NUMBER = "+821012345678"

Response = dict[str, Any]
Step = Callable[[Sequence[Mapping[str, Any]]], Response] | Exception


class FakeSqs:
    """Records SendMessageBatch calls; answers from a script, then accepts everything."""

    def __init__(self, *script: Step) -> None:
        self.script = list(script)
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []

    def send_message_batch(
        self, *, QueueUrl: str, Entries: Sequence[Mapping[str, Any]]
    ) -> Response:
        self.calls.append((QueueUrl, [dict(e) for e in Entries]))
        step = self.script.pop(0) if self.script else accept_all
        if isinstance(step, Exception):
            raise step
        return step(Entries)

    def ids(self, call: int) -> list[str]:
        return [e["Id"] for e in self.calls[call][1]]

    def job_ids(self, call: int) -> list[str]:
        return [json.loads(e["MessageBody"])["job_id"] for e in self.calls[call][1]]


def accept_all(entries: Sequence[Mapping[str, Any]]) -> Response:
    return {
        "Successful": [
            {"Id": e["Id"], "MessageId": f"msg-{e['Id']}", "MD5OfMessageBody": "0"} for e in entries
        ],
        "Failed": [],
    }


def fail(ids: set[str], *, sender_fault: bool, code: str = "InternalError") -> Step:
    """A response failing the entries whose Id is in `ids` and accepting the others."""

    def respond(entries: Sequence[Mapping[str, Any]]) -> Response:
        ok = [e for e in entries if e["Id"] not in ids]
        return {
            "Successful": accept_all(ok)["Successful"],
            "Failed": [
                {"Id": e["Id"], "SenderFault": sender_fault, "Code": code, "Message": "boom"}
                for e in entries
                if e["Id"] in ids
            ],
        }

    return respond


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "SendMessageBatch",
    )


class TopRng:
    """A jitter source that always picks the ceiling, so backoff is observable exactly."""

    def uniform(self, low: float, high: float) -> float:
        return high


def job(n: int | str, **fields: Any) -> dict[str, Any]:
    return {"job_id": f"job-{n}", "to": NUMBER, "body": f"message {n}", **fields}


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_producer(
    client: FakeSqs, sleeps: list[float], *, urls: Mapping[Priority, str] | None = None, **kw: Any
) -> SmsProducer:
    kw.setdefault("retry", RetryPolicy(max_attempts=4, base_delay=0.1, max_delay=1.0))
    return SmsProducer(
        client,  # type: ignore[arg-type]
        urls if urls is not None else {Priority.TRANSACTIONAL: T_URL, Priority.BULK: B_URL},
        sleep=sleeps.append,
        clock=lambda: NOW,
        rng=TopRng(),  # type: ignore[arg-type]
        **kw,
    )


def code_of(result: JobResult) -> str | None:
    return result.error.code if result.error else None


def by_status(results: Sequence[JobResult], status: str) -> list[str | None]:
    return [r.job_id for r in results if r.status == status]


# Batching and routing ------------------------------------------------------------------


def test_sends_in_batches_of_ten(sleeps: list[float]) -> None:
    # Given 25 valid transactional jobs
    sqs = FakeSqs()
    jobs = [job(i) for i in range(25)]
    # When they are sent
    results = make_producer(sqs, sleeps).send(jobs)
    # Then three SendMessageBatch calls carry 10, 10 and 5 entries, in input order
    assert [len(entries) for _, entries in sqs.calls] == [10, 10, 5]
    assert [j for c in range(3) for j in sqs.job_ids(c)] == [f"job-{i}" for i in range(25)]
    # And every job is queued once, with its SQS message id
    assert all(r.status == "queued" and r.attempts == 1 for r in results)
    assert [r.message_id for r in results] == [f"msg-{i}" for i in range(25)]
    assert sleeps == []


def test_routes_each_priority_to_its_queue(sleeps: list[float]) -> None:
    # Given jobs of both priorities, interleaved
    sqs = FakeSqs()
    jobs = [job(i, priority="bulk" if i % 3 == 0 else "transactional") for i in range(12)]
    # When they are sent
    results = make_producer(sqs, sleeps).send(jobs)
    # Then bulk jobs went to the bulk queue and the others to the transactional queue
    sent = {url: [json.loads(e["MessageBody"]) for e in entries] for url, entries in sqs.calls}
    assert {b["job_id"] for b in sent[B_URL]} == {"job-0", "job-3", "job-6", "job-9"}
    assert all(b["priority"] == "bulk" for b in sent[B_URL])
    assert len(sent[T_URL]) == 8
    assert all(b["priority"] == "transactional" for b in sent[T_URL])
    # And the transactional queue is served first although the input starts with a bulk job
    assert [url for url, _ in sqs.calls] == [T_URL, B_URL]
    # And each result names the queue it rode
    assert [r.queue for r in results] == [
        Priority.BULK if i % 3 == 0 else Priority.TRANSACTIONAL for i in range(12)
    ]


def test_message_body_and_attributes_follow_the_contract(sleeps: list[float]) -> None:
    # Given a job with every optional field but one
    sqs = FakeSqs()
    item = job(1, priority="bulk", metadata={"campaign": "spring", "n": 3, "flag": None})
    # When it is sent
    make_producer(sqs, sleeps).send([item])
    # Then the body is the compact model JSON without absent fields, valid against the schema
    entry = sqs.calls[0][1][0]
    body = json.loads(entry["MessageBody"])
    assert "origination" not in body
    assert "send_at" not in body
    assert body["schema_version"] == 1
    assert body["metadata"] == {"campaign": "spring", "n": 3, "flag": None}
    schema = json.loads((ROOT / "schemas" / "sms-job.v1.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(body)
    assert SmsJob.model_validate_json(entry["MessageBody"]) == SmsJob.model_validate(item)
    # And the attributes say which contract, job and priority it is
    assert entry["MessageAttributes"] == {
        "schema_version": {"DataType": "Number", "StringValue": "1"},
        "job_id": {"DataType": "String", "StringValue": "job-1"},
        "priority": {"DataType": "String", "StringValue": "bulk"},
    }
    # And the batch entry id is the input position (job_ids may hold characters Ids may not)
    assert entry["Id"] == "0"
    assert "DelaySeconds" not in entry


def test_accepts_models_dicts_json_text_and_bytes(sleeps: list[float]) -> None:
    # Given the same kind of job in every accepted form, plus two unreadable ones
    sqs = FakeSqs()
    jobs: list[Any] = [
        SmsJob.model_validate(job(0)),
        job(1),
        json.dumps(job(2)),
        json.dumps(job(3)).encode(),
        "{not json",
        42,
    ]
    # When they are sent
    results = make_producer(sqs, sleeps).send(jobs)
    # Then the four jobs are queued and the two others are invalid with a reason code
    assert [r.status for r in results] == ["queued"] * 4 + ["invalid"] * 2
    assert code_of(results[4]) == "invalid_json"
    assert code_of(results[5]) == "unsupported_type"
    assert sqs.job_ids(0) == ["job-0", "job-1", "job-2", "job-3"]


# Validation first ------------------------------------------------------------------------


def test_invalid_jobs_are_never_sent(sleeps: list[float]) -> None:
    # Given valid jobs mixed with jobs that break the contract
    sqs = FakeSqs()
    jobs = [
        job(0),
        {"job_id": "bad-1", "to": "01012345678", "body": "no country code"},
        job(2, body=""),
        job(3, extra="field"),
        job(4),
    ]
    # When they are sent
    results = make_producer(sqs, sleeps).send(jobs)
    # Then only the valid jobs reach SQS
    assert len(sqs.calls) == 1
    assert sqs.job_ids(0) == ["job-0", "job-4"]
    # And the others are invalid, with the failing field named and no attempt made
    assert by_status(results, "invalid") == ["bad-1", "job-2", "job-3"]
    reasons = [r.error.reason for r in results if r.error]
    assert reasons[0].startswith("to: String should match pattern")
    assert reasons[1].startswith("body: String should have at least 1 character")
    assert reasons[2].startswith("extra: Extra inputs are not permitted")
    assert all(r.attempts == 0 and r.message_id is None for r in results if r.status == "invalid")
    # And the reasons never echo the input values (numbers and bodies stay out of results)
    assert not any("01012345678" in reason or "no country code" in reason for reason in reasons)


def test_duplicate_job_ids_in_one_call_are_rejected(sleeps: list[float]) -> None:
    # Given the same job_id three times (once with a different body)
    sqs = FakeSqs()
    jobs = [job("a"), job("b"), job("a", body="other"), job("a")]
    # When they are sent
    results = make_producer(sqs, sleeps).send(jobs)
    # Then the first occurrence is queued and the later ones are invalid duplicates
    assert [r.status for r in results] == ["queued", "queued", "invalid", "invalid"]
    assert code_of(results[2]) == "duplicate_job_id"
    assert "index 0" in str(results[2].error)
    # And the job_id is sent only once
    assert sqs.job_ids(0) == ["job-a", "job-b"]


def test_results_follow_input_order(sleeps: list[float]) -> None:
    # Given bulk and transactional jobs interleaved with invalid ones
    reject_1 = fail({"1"}, sender_fault=True, code="InvalidParameterValue")
    sqs = FakeSqs(reject_1, reject_1)
    jobs = [
        job(0, priority="bulk"),
        job(1),
        {"job_id": "bad-2"},
        job(3, priority="bulk"),
        job(4),
    ]
    # When they are sent (bulk first in the input, so the queues are hit in some order)
    results = make_producer(sqs, sleeps).send(jobs)
    # Then result i describes input i
    assert [r.index for r in results] == [0, 1, 2, 3, 4]
    assert [r.job_id for r in results] == ["job-0", "job-1", "bad-2", "job-3", "job-4"]
    assert [r.status for r in results] == ["queued", "failed", "invalid", "queued", "queued"]


def test_validate_jobs_sends_nothing() -> None:
    # Given a valid and an invalid job / When only validated
    results = validate_jobs([job(0, body="안녕하세요"), job(1, to="+1")])
    # Then the valid one is "valid" with its segmentation and the other invalid
    assert [r.status for r in results] == ["valid", "invalid"]
    assert (results[0].encoding, results[0].parts, results[0].queue) == (
        "UCS-2",
        1,
        Priority.TRANSACTIONAL,
    )


# Retries ---------------------------------------------------------------------------------


def test_partial_failure_retries_only_the_failed_entries(sleeps: list[float]) -> None:
    # Given SQS fails entries 2 and 7 on its side (SenderFault false) on the first call
    sqs = FakeSqs(fail({"2", "7"}, sender_fault=False))
    # When ten jobs are sent
    results = make_producer(sqs, sleeps).send([job(i) for i in range(10)])
    # Then the second call carries only the two failed entries
    assert len(sqs.calls) == 2
    assert sqs.ids(1) == ["2", "7"]
    assert sqs.job_ids(1) == ["job-2", "job-7"]
    # And everything ends queued; the retried jobs took two attempts
    assert all(r.status == "queued" for r in results)
    assert [r.attempts for r in results] == [1, 1, 2, 1, 1, 1, 1, 2, 1, 1]
    # And one backoff (at most the base delay) separated the calls
    assert sleeps == [0.1]


def test_backoff_grows_exponentially_and_is_capped(sleeps: list[float]) -> None:
    # Given an entry that keeps failing on the service side
    always = fail({"0"}, sender_fault=False, code="ServiceUnavailable")
    sqs = FakeSqs(always, always, always, always, always, always)
    producer = make_producer(
        sqs, sleeps, retry=RetryPolicy(max_attempts=6, base_delay=0.1, max_delay=0.5)
    )
    # When it is sent
    results = producer.send([job(0), job(1)])
    # Then the jitter ceilings double each retry up to the cap
    assert sleeps == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    # And after the last attempt the job fails with the service's code
    assert results[0].status == "failed"
    assert results[0].attempts == 6
    assert code_of(results[0]) == "ServiceUnavailable"
    assert results[1].status == "queued"
    assert len(sqs.calls) == 6
    assert all(sqs.ids(c) == ["0"] for c in range(1, 6))


def test_full_jitter_stays_within_the_ceiling() -> None:
    # Given the default random source / When many backoffs are drawn / Then 0 <= wait <= ceiling
    import random

    policy = RetryPolicy(base_delay=0.2, max_delay=1.0)
    rng = random.Random(7)
    for retry in range(1, 8):
        ceiling = min(1.0, 0.2 * 2 ** (retry - 1))
        waits = [policy.backoff(retry, rng) for _ in range(200)]
        assert all(0.0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling / 2  # jitter spans the range, not a constant


def test_sender_fault_entries_are_not_retried(sleeps: list[float]) -> None:
    # Given SQS rejects entry 1 as the sender's fault
    sqs = FakeSqs(fail({"1"}, sender_fault=True, code="InvalidParameterValue"))
    # When three jobs are sent
    results = make_producer(sqs, sleeps).send([job(0), job(1), job(2)])
    # Then there is no second call, and that job failed with the code
    assert len(sqs.calls) == 1
    assert sleeps == []
    assert [r.status for r in results] == ["queued", "failed", "queued"]
    assert results[1].error == JobError("InvalidParameterValue", "boom")
    assert results[1].attempts == 1


def test_mixed_sender_and_service_faults(sleeps: list[float]) -> None:
    # Given one entry rejected (sender fault) and one failing on the service side
    def respond(entries: Sequence[Mapping[str, Any]]) -> Response:
        first = fail({"0"}, sender_fault=True, code="InvalidMessageContents")(entries)
        second = fail({"1"}, sender_fault=False)(entries)
        return {
            "Successful": [s for s in first["Successful"] if s["Id"] != "1"],
            "Failed": first["Failed"] + second["Failed"],
        }

    sqs = FakeSqs(respond)
    # When three jobs are sent
    results = make_producer(sqs, sleeps).send([job(0), job(1), job(2)])
    # Then only the service-side failure is retried
    assert sqs.ids(1) == ["1"]
    assert [r.status for r in results] == ["failed", "queued", "queued"]


@pytest.mark.parametrize(
    "error",
    [
        client_error("ThrottlingException", 400),
        client_error("AWS.SimpleQueueService.RequestThrottled", 403),
        client_error("InternalError", 500),
        client_error("SomethingNew", 503),
        ReadTimeoutError(endpoint_url=T_URL),
    ],
    ids=["throttling", "sqs-throttled", "internal", "any-5xx", "read-timeout"],
)
def test_whole_call_transient_errors_are_retried(sleeps: list[float], error: Exception) -> None:
    # Given the first call fails as a whole with a transient error
    sqs = FakeSqs(error)
    # When two jobs are sent
    results = make_producer(sqs, sleeps).send([job(0), job(1)])
    # Then the same entries are sent again after a backoff and end up queued
    assert len(sqs.calls) == 2
    assert sqs.ids(1) == ["0", "1"]
    assert len(sleeps) == 1
    assert [(r.status, r.attempts) for r in results] == [("queued", 2), ("queued", 2)]


def test_whole_call_permanent_errors_fail_the_batch(sleeps: list[float]) -> None:
    # Given the queue refuses the call (missing permission)
    sqs = FakeSqs(client_error("AccessDenied", 403))
    # When two jobs are sent
    results = make_producer(sqs, sleeps).send([job(0), job(1)])
    # Then nothing is retried and both jobs fail with the code
    assert len(sqs.calls) == 1
    assert sleeps == []
    assert [r.status for r in results] == ["failed", "failed"]
    assert all(r.error is not None and r.error.code == "AccessDenied" for r in results)


def test_throttling_until_attempts_run_out(sleeps: list[float]) -> None:
    # Given every call is throttled
    throttled = client_error("ThrottlingException", 400)
    sqs = FakeSqs(throttled, throttled, throttled, throttled)
    # When a job is sent with 4 attempts allowed
    [result] = make_producer(sqs, sleeps).send([job(0)])
    # Then it fails after exactly 4 calls and 3 waits
    assert len(sqs.calls) == 4
    assert len(sleeps) == 3
    assert result.status == "failed"
    assert result.attempts == 4
    assert code_of(result) == "ThrottlingException"


def test_entries_missing_from_the_response_are_retried(sleeps: list[float]) -> None:
    # Given a response that mentions only the first entry
    def partial(entries: Sequence[Mapping[str, Any]]) -> Response:
        return accept_all(entries[:1])

    sqs = FakeSqs(partial)
    # When two jobs are sent / Then the unmentioned one is sent again
    results = make_producer(sqs, sleeps).send([job(0), job(1)])
    assert sqs.ids(1) == ["1"]
    assert [r.status for r in results] == ["queued", "queued"]


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


# Scheduling ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "delay"),
    [
        (None, None),
        (timedelta(seconds=-30), None),
        (timedelta(0), None),
        (timedelta(seconds=0.2), 1),
        (timedelta(seconds=60), 60),
        (timedelta(seconds=899.5), 900),
        (timedelta(seconds=900), 900),
        (timedelta(seconds=900.5), None),
        (timedelta(hours=3), None),
    ],
)
def test_delay_seconds_only_for_send_at_within_15_minutes(
    sleeps: list[float], offset: timedelta | None, delay: int | None
) -> None:
    # Given a job due `offset` from now (None: no send_at)
    sqs = FakeSqs()
    fields = {} if offset is None else {"send_at": (NOW + offset).isoformat()}
    # When it is sent
    make_producer(sqs, sleeps).send([job(0, **fields)])
    # Then DelaySeconds is set (rounded up) only when it is due within 15 minutes
    entry = sqs.calls[0][1][0]
    assert entry.get("DelaySeconds") == delay
    # And send_at is kept in the body whatever the delay, for the sender to honour
    assert ("send_at" in json.loads(entry["MessageBody"])) is (offset is not None)


def test_send_at_in_another_offset_is_compared_in_utc(sleeps: list[float]) -> None:
    # Given a send_at two minutes from now written in Korean time
    sqs = FakeSqs()
    kst = (NOW + timedelta(minutes=2)).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Seoul"))
    # When it is sent / Then the delay is 120 seconds
    make_producer(sqs, sleeps).send([job(0, send_at=kst.isoformat())])
    assert sqs.calls[0][1][0]["DelaySeconds"] == 120


# Size limits -----------------------------------------------------------------------------


def test_batches_split_on_payload_bytes(sleeps: list[float]) -> None:
    # Given ten jobs of equal size and a payload limit that fits three of them
    sqs = FakeSqs()
    jobs = [job(i, body="x" * 1000) for i in range(10)]
    producer = make_producer(sqs, sleeps)
    size = _entry_size(sqs_entry(producer, jobs[0]))
    producer = make_producer(sqs, sleeps, max_batch_bytes=3 * size + size // 2)
    # When they are sent
    results = producer.send(jobs)
    # Then batches hold 3, 3, 3 and 1 entries, each under the limit
    assert [len(entries) for _, entries in sqs.calls] == [3, 3, 3, 1]
    for _, entries in sqs.calls:
        assert sum(_entry_size(e) for e in entries) <= producer.max_batch_bytes  # type: ignore[arg-type]
    assert all(r.status == "queued" for r in results)


def test_default_limit_is_256_kib_and_ten_largest_jobs_fit_it(sleeps: list[float]) -> None:
    # Given ten jobs as large on the wire as the contract allows: every field at its limit,
    # body and metadata of U+FFFF (3 UTF-8 bytes when measured, a 6-byte escape when sent)
    metadata = {"k": "\uffff" * 680}
    assert len(json.dumps(metadata, separators=(",", ":"), ensure_ascii=False).encode()) <= 2048
    jobs = [
        job(i, body="\uffff" * 1600, metadata=metadata, origination="o" * 256,
            send_at=(NOW + timedelta(days=1)).isoformat(), to="+123456789012345")
        | {"job_id": f"{i:03d}" + "j" * 125}
        for i in range(10)
    ]  # fmt: skip
    sqs = FakeSqs()
    producer = make_producer(sqs, sleeps)
    # When they are sent with the default limit
    results = producer.send(jobs)
    # Then the limit is 256 KiB, the size counts body and attributes, and one batch suffices
    assert all(r.status == "queued" for r in results)
    assert producer.max_batch_bytes == MAX_BATCH_BYTES == 262_144
    entry = sqs.calls[0][1][0]
    attrs = sum(
        len(name) + len(a["DataType"]) + len(a["StringValue"].encode())
        for name, a in entry["MessageAttributes"].items()
    )
    size = _entry_size(entry)  # type: ignore[arg-type]
    assert size == len(entry["MessageBody"].encode()) + attrs
    assert 14_000 < size < 15_000  # docs/producers.md: "a valid job is under 15 KB"
    assert [len(entries) for _, entries in sqs.calls] == [10]


def test_a_message_over_the_limit_is_invalid(sleeps: list[float]) -> None:
    # Given a payload limit smaller than one job
    sqs = FakeSqs()
    producer = make_producer(sqs, sleeps, max_batch_bytes=200)
    # When a short and a long job are sent
    results = producer.send([job(0, body="hi"), job(1, body="x" * 500)])
    # Then the long one is invalid (never sent) and the short one queued
    assert [r.status for r in results] == ["queued", "invalid"]
    assert code_of(results[1]) == "too_large"
    assert sqs.job_ids(0) == ["job-0"]


def test_body_escapes_characters_sqs_refuses() -> None:
    # Given a body with U+FFFF, legal in JSON but not in an SQS message
    item = SmsJob.model_validate(job(0, body="a\uffffb\x00"))
    # When its queue body is built
    text = message_body(item)
    # Then the raw character is escaped and the JSON still means the same job
    assert "\uffff" not in text
    assert "\\uffff" in text
    assert SmsJob.model_validate_json(text) == item


# Configuration, logging and the real botocore request shape -------------------------------


def test_priority_without_a_queue_fails_those_jobs(sleeps: list[float]) -> None:
    # Given a producer that knows only the transactional queue
    sqs = FakeSqs()
    producer = make_producer(sqs, sleeps, urls={Priority.TRANSACTIONAL: T_URL, Priority.BULK: ""})
    # When a bulk and a transactional job are sent
    results = producer.send([job(0, priority="bulk"), job(1)])
    # Then the bulk job fails as not configured and the other is queued
    assert [r.status for r in results] == ["failed", "queued"]
    assert code_of(results[0]) == "queue_not_configured"
    assert [url for url, _ in sqs.calls] == [T_URL]


def test_logs_mask_numbers_and_omit_bodies(
    sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a job that fails and an invalid one, both with a secret body
    sqs = FakeSqs(fail({"0"}, sender_fault=True, code="InvalidParameterValue"))
    secret = "your code is 987654"
    # When they are sent
    make_producer(sqs, sleeps).send([job(0, body=secret), job(1, to="+82", body=secret)])
    # Then the logs say what failed, with a masked number and without the body
    logs = "\n".join(str(vars(record)) for record in caplog.records)
    assert "sms job failed" in logs
    assert "sms job invalid" in logs
    assert "+82********78" in logs
    assert NUMBER not in logs
    assert secret not in logs


def test_request_shape_is_accepted_by_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a real SQS client whose responses are stubbed (botocore validates the request)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    client = boto3.client("sqs", region_name="ap-northeast-2")
    stubber = Stubber(client)
    expected = {"QueueUrl": T_URL, "Entries": ANY}
    stubber.add_response(
        "send_message_batch",
        {
            "Successful": [{"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "x"}],
            "Failed": [
                {"Id": "1", "SenderFault": False, "Code": "InternalError", "Message": "retry"}
            ],
        },
        expected,
    )
    stubber.add_response(
        "send_message_batch",
        {"Successful": [{"Id": "1", "MessageId": "m1", "MD5OfMessageBody": "x"}], "Failed": []},
        expected,
    )
    producer = SmsProducer(
        client, {Priority.TRANSACTIONAL: T_URL}, sleep=lambda _: None, clock=lambda: NOW
    )
    # When two jobs are sent, one with a near send_at
    with stubber:
        results = producer.send([job(0, send_at=(NOW + timedelta(seconds=30)).isoformat()), job(1)])
        # Then both calls were made and the stubbed answers were read
        stubber.assert_no_pending_responses()
    assert [(r.status, r.message_id, r.attempts) for r in results] == [
        ("queued", "m0", 1),
        ("queued", "m1", 2),
    ]


def test_from_settings_reads_queue_urls_and_builds_the_client_lazily(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given queue URLs in the environment
    from courier.settings import get_settings

    monkeypatch.setenv("SMS_TRANSACTIONAL_QUEUE_URL", T_URL)
    monkeypatch.setenv("SMS_BULK_QUEUE_URL", B_URL)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    # When a producer is built from settings
    get_settings.cache_clear()
    producer = SmsProducer.from_settings()
    # Then it knows both queues and has not built a client yet
    assert producer.queue_urls == {Priority.TRANSACTIONAL: T_URL, Priority.BULK: B_URL}
    assert producer._client is None
    # And the client it builds uses the queue's region and no botocore retries of its own
    client = producer.client
    assert client.meta.region_name == "ap-northeast-2"
    assert client.meta.config.retries is not None
    assert client.meta.config.retries["total_max_attempts"] == 1


def test_from_settings_explicit_region_and_endpoint_win(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a region in the environment and an emulator endpoint
    from courier.settings import get_settings

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("SMS_BULK_QUEUE_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    get_settings.cache_clear()
    # When a producer is built with explicit overrides
    producer = SmsProducer.from_settings(
        transactional_queue_url="http://localhost:4566/000000000000/sms-t",
        endpoint_url="http://localhost:4566",
        region_name="ap-northeast-2",
    )
    # Then the client uses them
    assert producer.queue_urls == {
        Priority.TRANSACTIONAL: "http://localhost:4566/000000000000/sms-t"
    }
    assert producer.client.meta.region_name == "ap-northeast-2"
    assert producer.client.meta.endpoint_url == "http://localhost:4566"


def test_send_jobs_uses_the_given_producer(sleeps: list[float]) -> None:
    # Given a producer / When the module function is used / Then it sends through it
    sqs = FakeSqs()
    results = send_jobs([job(0)], producer=make_producer(sqs, sleeps))
    assert [r.status for r in results] == ["queued"]
    assert len(sqs.calls) == 1


def test_result_to_dict_is_json_ready(sleeps: list[float]) -> None:
    # Given a queued and an invalid result / When turned into dicts / Then JSON can encode them
    results = make_producer(FakeSqs(), sleeps).send([job(0), job(1, to="x")])
    decoded = json.loads(json.dumps([r.to_dict() for r in results]))
    assert decoded[0]["status"] == "queued"
    assert decoded[0]["queue"] == "transactional"
    assert decoded[0]["message_id"] == "msg-0"
    assert decoded[1]["error"]["code"] == "validation_error"


def sqs_entry(producer: SmsProducer, item: Mapping[str, Any]) -> Any:
    """The SendMessageBatch entry a producer would build for one job."""
    recorder = FakeSqs()
    SmsProducer(
        recorder,  # type: ignore[arg-type]
        producer.queue_urls,
        clock=lambda: NOW,
    ).send([item])
    return recorder.calls[0][1][0]


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test in this module may reach a real endpoint."""
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
