"""`sms dlq` argument handling: usage errors exit 2 before any AWS call (no network)."""

from __future__ import annotations

import pytest

from courier.sms.cli import main

URLS = ["--dlq-url", "http://127.0.0.1:9/q/dlq", "--source-queue-url", "http://127.0.0.1:9/q/src"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["redrive", "transactional", *URLS], "choose messages"),
        (["redrive", "bulk", "--all", "--message-id", "m", *URLS], "cannot be combined"),
        (["list", "events", "--limit", "0", *URLS], "at least 1"),
        (["list", "transactional"], "SMS_TRANSACTIONAL_DEAD_LETTER_QUEUE_URL"),
    ],
)
def test_usage_errors_exit_2_with_a_clear_message(
    aws_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    # Given no queue settings in the environment
    for name in ("SMS_TRANSACTIONAL_DEAD_LETTER_QUEUE_URL", "SMS_TRANSACTIONAL_QUEUE_URL"):
        monkeypatch.delenv(name, raising=False)
    # When the command is run, Then it is a usage error naming the problem, and prints no result
    assert main(["dlq", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err
    assert "usage: sms dlq" in err


def test_an_unknown_queue_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "list", "sms-marketing"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def _without_region(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")


def test_a_stack_that_cannot_be_read_without_a_region_is_a_usage_error(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no region configured (a new shell), When --stack is read
    _without_region(monkeypatch)
    assert main(["dlq", "list", "transactional", "--stack", "courier-prod"]) == 2
    # Then one line says why; no traceback
    err = capsys.readouterr().err
    assert "cannot read the outputs of stack courier-prod" in err
    assert "region" in err
    assert "Traceback" not in err


def test_an_aws_error_while_listing_is_one_line_and_exit_1(
    aws_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given queue URLs but no region, When the queue is listed
    _without_region(monkeypatch)
    assert main(["dlq", "list", "transactional", *URLS]) == 1
    # Then the AWS error is reported in one line and nothing is printed as a result
    out, err = capsys.readouterr()
    assert out == ""
    assert "sms: error: AWS: You must specify a region." in err
