"""The `sms` console script against in-process SQS (moto)."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from courier.schema_export import SMS_JOB, render
from courier.sms.cli import main
from courier.sms.contract import SmsJob

ROOT = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-2"
NUMBER = "+821012345678"


class Queues:
    def __init__(self) -> None:
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.transactional = self.sqs.create_queue(QueueName="sms-transactional")["QueueUrl"]
        self.bulk = self.sqs.create_queue(QueueName="sms-bulk")["QueueUrl"]

    def drain(self, url: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        while True:
            batch = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
            ).get("Messages", [])
            if not batch:
                return messages
            messages.extend(batch)
            for m in batch:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

    def count(self, url: str) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesDelayed"]
        )


@pytest.fixture
def sqs_env(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared fake AWS environment, with the CLI's own log-level defaults in force."""
    for name in ("LOG_LEVEL", "POWERTOOLS_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def queues(sqs_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Queues]:
    from courier.settings import get_settings

    with mock_aws():
        q = Queues()
        monkeypatch.setenv("SMS_TRANSACTIONAL_QUEUE_URL", q.transactional)
        monkeypatch.setenv("SMS_BULK_QUEUE_URL", q.bulk)
        get_settings.cache_clear()
        yield q
    get_settings.cache_clear()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_send_one_job(queues: Queues, capsys: pytest.CaptureFixture[str]) -> None:
    # Given two empty queues
    # When one job is sent with --to/--body
    code, results, err = run(capsys, "send", "--to", NUMBER, "--body", "Your code is 123456")
    # Then it exits 0 and prints one queued result with a generated UUID4 job_id
    assert code == 0
    [result] = results
    assert result["status"] == "queued"
    assert result["queue"] == "transactional"
    assert uuid.UUID(result["job_id"]).version == 4
    assert result["message_id"]
    assert err.strip().splitlines()[-1] == "queued=1 invalid=0 failed=0"
    # And the message on the transactional queue is that job
    [message] = queues.drain(queues.transactional)
    job = SmsJob.model_validate_json(message["Body"])
    assert (job.job_id, job.to, job.body) == (result["job_id"], NUMBER, "Your code is 123456")
    assert message["MessageId"] == result["message_id"]
    assert message["MessageAttributes"]["job_id"]["StringValue"] == result["job_id"]
    assert queues.count(queues.bulk) == 0


def test_send_one_bulk_job_with_every_option(
    queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    # When a bulk job is sent with every single-job option
    code, results, _ = run(
        capsys,
        "send",
        "--to", NUMBER,
        "--body", "봄 세일 20% 할인",
        "--job-id", "spring:u-1",
        "--priority", "bulk",
        "--origination", "Courier",
        "--send-at", "2030-03-02T10:00:00+09:00",
        "--metadata", "campaign=spring", "variant=b",
        "--metadata", "empty=",
    )  # fmt: skip
    # Then it is queued on the bulk queue with every field carried over
    assert code == 0
    assert results[0]["job_id"] == "spring:u-1"
    assert results[0]["queue"] == "bulk"
    assert (results[0]["encoding"], results[0]["parts"]) == ("UCS-2", 1)
    [message] = queues.drain(queues.bulk)
    job = SmsJob.model_validate_json(message["Body"])
    assert job.origination == "Courier"
    assert job.send_at is not None
    assert job.send_at.isoformat() == "2030-03-02T10:00:00+09:00"
    assert job.metadata == {"campaign": "spring", "variant": "b", "empty": ""}
    assert queues.drain(queues.transactional) == []


def test_send_file_with_a_bad_line(
    queues: Queues, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a JSON Lines file: two good jobs, a blank line, a broken line, an invalid job
    path = tmp_path / "jobs.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"job_id": "f-1", "to": NUMBER, "body": "one"}),
                json.dumps({"job_id": "f-2", "to": NUMBER, "body": "two", "priority": "bulk"}),
                "",
                '{"job_id": "f-3", "to": ',
                json.dumps({"job_id": "f-4", "to": "12345", "body": "bad number"}),
                json.dumps({"job_id": "f-5", "to": NUMBER, "body": "five"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    # When the file is sent
    code, results, err = run(capsys, "send", "--file", str(path))
    # Then it exits 1, with one result per non-blank line carrying the line number
    assert code == 1
    assert [(r["line"], r["status"]) for r in results] == [
        (1, "queued"),
        (2, "queued"),
        (4, "invalid"),
        (5, "invalid"),
        (6, "queued"),
    ]
    assert results[2]["error"]["code"] == "invalid_json"
    assert results[3]["job_id"] == "f-4"
    assert results[3]["error"]["reason"].startswith("to:")
    assert err.strip().splitlines()[-1] == "queued=3 invalid=2 failed=0"
    # And the good jobs still reached their queues
    sent_t = sorted(json.loads(m["Body"])["job_id"] for m in queues.drain(queues.transactional))
    sent_b = [json.loads(m["Body"])["job_id"] for m in queues.drain(queues.bulk)]
    assert sent_t == ["f-1", "f-5"]
    assert sent_b == ["f-2"]


def test_send_example_file(queues: Queues, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the examples shipped in the repository / When sent / Then all are queued
    code, results, _ = run(capsys, "send", "--file", str(ROOT / "examples" / "jobs.jsonl"))
    assert code == 0
    assert len(results) >= 3
    assert {r["status"] for r in results} == {"queued"}
    assert "UCS-2" in {r["encoding"] for r in results}
    total = len(queues.drain(queues.transactional)) + len(queues.drain(queues.bulk))
    assert total == len(results)


def test_send_from_stdin(
    queues: Queues, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given jobs on standard input
    lines = [json.dumps({"job_id": f"s-{i}", "to": NUMBER, "body": "hi"}) for i in range(12)]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines)))
    # When sent with --file - / Then all twelve are queued
    code, results, _ = run(capsys, "send", "--file", "-")
    assert code == 0
    assert len(results) == 12
    assert len(queues.drain(queues.transactional)) == 12


def test_dry_run_sends_nothing(
    queues: Queues, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a file of valid jobs
    path = tmp_path / "jobs.jsonl"
    path.write_text(
        "\n".join(json.dumps({"job_id": f"d-{i}", "to": NUMBER, "body": "hi"}) for i in range(3))
    )
    # When it is sent with --dry-run
    code, results, err = run(capsys, "send", "--file", str(path), "--dry-run")
    # Then every job is reported valid, the summary says nothing was sent, and queues stay empty
    assert code == 0
    assert [r["status"] for r in results] == ["valid"] * 3
    assert all(r["message_id"] is None for r in results)
    assert "dry run" in err
    assert queues.count(queues.transactional) == 0
    assert queues.count(queues.bulk) == 0


def test_dry_run_needs_no_queue_or_credentials(
    sqs_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no queue URLs at all
    monkeypatch.delenv("SMS_TRANSACTIONAL_QUEUE_URL", raising=False)
    monkeypatch.delenv("SMS_BULK_QUEUE_URL", raising=False)
    # When an invalid job is checked with --dry-run
    code, results, _ = run(capsys, "send", "--to", "+1", "--body", "x", "--dry-run")
    # Then the job is invalid and the exit status is 1
    assert code == 1
    assert results[0]["status"] == "invalid"


def test_queue_url_flags_override_the_environment(
    queues: Queues, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a third queue that is not in the environment
    other = queues.sqs.create_queue(QueueName="sms-other")["QueueUrl"]
    # When a job is sent with --transactional-queue-url
    code, _, _ = run(
        capsys, "send", "--to", NUMBER, "--body", "hi", "--transactional-queue-url", other
    )
    # Then it lands on that queue only
    assert code == 0
    assert len(queues.drain(other)) == 1
    assert queues.count(queues.transactional) == 0


def test_failed_send_exits_1(queues: Queues, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a queue URL that does not exist
    missing = queues.transactional.rsplit("/", 1)[0] + "/no-such-queue"
    # When a job is sent there
    code, results, err = run(
        capsys, "send", "--to", NUMBER, "--body", "hi", "--transactional-queue-url", missing
    )
    # Then the job failed with the service's code and the exit status is 1
    assert code == 1
    assert results[0]["status"] == "failed"
    assert results[0]["error"]["code"]
    assert "failed=1" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["send"],
        ["send", "--to", NUMBER],
        ["send", "--body", "hi"],
        ["send", "--file", "jobs.jsonl", "--to", NUMBER],
        ["send", "--file", "/nonexistent/jobs.jsonl"],
        ["send", "--to", NUMBER, "--body", "hi", "--metadata", "novalue"],
        ["send", "--to", NUMBER, "--body", "hi", "--priority", "urgent"],
        ["send", "--to", NUMBER, "--body", "hi", "--max-attempts", "0"],
        ["unknown"],
    ],
)
def test_usage_errors_exit_2(
    queues: Queues, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    # When the command line is wrong / Then exit 2, nothing on stdout, nothing sent
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "usage:" in err
    assert queues.count(queues.transactional) == 0


def test_missing_queue_urls_is_a_usage_error(
    sqs_env: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no queue URL in the environment or on the command line
    from courier.settings import get_settings

    monkeypatch.delenv("SMS_TRANSACTIONAL_QUEUE_URL", raising=False)
    monkeypatch.delenv("SMS_BULK_QUEUE_URL", raising=False)
    get_settings.cache_clear()
    # When a job is sent / Then exit 2 with a hint about the variables
    assert main(["send", "--to", NUMBER, "--body", "hi"]) == 2
    assert "SMS_TRANSACTIONAL_QUEUE_URL" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "--help"]) == 0
    assert "--dry-run" in capsys.readouterr().out


def test_schema_command_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    # When `sms schema` runs / Then it prints exactly the committed schema file
    assert main(["schema"]) == 0
    out = capsys.readouterr().out
    assert out == render(SMS_JOB)
    assert out == (ROOT / "schemas" / "sms-job.v1.schema.json").read_text(encoding="utf-8")


def test_logs_stay_off_stdout(
    queues: Queues, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given verbose logging and a job that is logged as invalid
    path = tmp_path / "jobs.jsonl"
    path.write_text(json.dumps({"job_id": "x", "to": "bad", "body": "secret body"}) + "\n")
    # When it is sent with -v
    code = main(["-v", "send", "--file", str(path)])
    out, err = capsys.readouterr()
    # Then stdout holds only result lines, and the logs went to stderr without the body
    assert code == 1
    assert [json.loads(line)["status"] for line in out.splitlines()] == ["invalid"]
    assert "sms job invalid" in err
    assert "secret body" not in err


def test_opt_out_add_check_remove_against_the_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an opt-out table (moto) named by the environment
    import boto3
    from moto import mock_aws

    from courier.settings import get_settings

    for name, value in {
        "AWS_DEFAULT_REGION": "ap-northeast-2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SMS_OPT_OUT_TABLE": "OptOuts",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="OptOuts",
            KeySchema=[{"AttributeName": "phone_number", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "phone_number", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        # When a number is added, checked, removed and checked again
        codes = [
            main(["opt-out", "add", "+821012345678"]),
            main(["opt-out", "check", "+821012345678"]),
            main(["opt-out", "remove", "+821012345678"]),
            main(["opt-out", "check", "+821012345678"]),
        ]

    # Then every call succeeds, the checks see the change, and output masks the number
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert codes == [0, 0, 0, 0]
    assert [line["opted_out"] for line in lines] == [True, True, False, False]
    assert {line["number"] for line in lines} == {"+82********78"}
    # And a malformed number is a usage error
    assert main(["opt-out", "add", "010-1234-5678"]) == 2
    get_settings.cache_clear()
