"""Sandbox provider: bookkeeping, injected faults, outbox and thread safety."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from courier.settings import Settings
from courier.sms.providers import (
    OutboundSms,
    PermanentSendError,
    ProviderError,
    RetryableSendError,
    build_provider,
)
from courier.sms.providers.sandbox import SandboxProvider

TO = "+821012345678"


def sms(job_id: str = "job-1", **overrides: Any) -> OutboundSms:
    fields: dict[str, Any] = {
        "job_id": job_id,
        "to": TO,
        "body": "인증번호는 123456 입니다",
        "message_type": "TRANSACTIONAL",
        "parts": 1,
        "encoding": "UCS-2",
    }
    fields.update(overrides)
    return OutboundSms(**fields)


def outcomes(provider: SandboxProvider, count: int) -> list[str]:
    """ "ok" or the error code of each of `count` sends."""
    results = []
    for index in range(count):
        try:
            provider.send(sms(f"job-{index}"))
            results.append("ok")
        except ProviderError as error:
            results.append(error.code)
    return results


def test_accepts_and_records_every_message() -> None:
    # Given a sandbox with no faults
    provider = SandboxProvider()

    # When three jobs are sent
    accepted = [provider.send(sms(f"job-{index}")) for index in range(3)]

    # Then each is recorded once, under a unique message id
    assert [message.job_id for message in provider.sent] == ["job-0", "job-1", "job-2"]
    assert provider.calls == 3
    assert provider.successes_by_job == {"job-0": 1, "job-1": 1, "job-2": 1}
    assert {a.provider for a in accepted} == {"sandbox"}
    assert len({a.message_id for a in accepted}) == 3


def test_accessors_return_copies() -> None:
    # Given a sandbox that accepted one message
    provider = SandboxProvider()
    provider.send(sms())

    # When a caller mutates what the accessors returned
    provider.sent.clear()
    provider.successes_by_job.clear()

    # Then the provider's own records are untouched
    assert len(provider.sent) == 1
    assert provider.successes_by_job["job-1"] == 1


@pytest.mark.parametrize("number", ["+821099990000", "+9991234567"])
def test_listed_and_unassigned_numbers_fail_permanently(number: str) -> None:
    # Given a sandbox that knows one bad number (and +999 is never assigned)
    provider = SandboxProvider(permanent_failure_numbers={"+821099990000"}, failure_rate=1.0)

    # When a job to it is sent
    with pytest.raises(PermanentSendError) as raised:
        provider.send(sms(to=number))

    # Then it fails for good (before any transient draw), counted as a call but not as sent
    assert raised.value.code == "INVALID_NUMBER"
    assert number not in str(raised.value)
    assert provider.calls == 1
    assert provider.sent == []


def test_failure_rate_one_always_fails_transiently() -> None:
    # Given a sandbox that fails every send
    provider = SandboxProvider(failure_rate=1.0)

    # When a job is sent
    with pytest.raises(RetryableSendError) as raised:
        provider.send(sms())

    # Then it is a retryable, injected failure and nothing was recorded as sent
    assert raised.value.code == "SANDBOX_TRANSIENT"
    assert provider.calls == 1
    assert provider.successes_by_job == {}


def test_same_seed_same_faults() -> None:
    # Given two sandboxes with the same seed and a 30% failure rate
    first = SandboxProvider(failure_rate=0.3, seed=42)
    second = SandboxProvider(failure_rate=0.3, seed=42)

    # When each sends the same 200 jobs
    first_outcomes = outcomes(first, 200)
    second_outcomes = outcomes(second, 200)

    # Then the failures fall on the same jobs, at roughly the configured rate
    assert first_outcomes == second_outcomes
    assert 30 <= first_outcomes.count("SANDBOX_TRANSIENT") <= 90
    assert set(first_outcomes) == {"ok", "SANDBOX_TRANSIENT"}


def test_latency_is_simulated(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a sandbox with 250 ms of latency and a clock that records sleeps
    sleeps: list[float] = []
    monkeypatch.setattr("courier.sms.providers.sandbox.time.sleep", sleeps.append)
    provider = SandboxProvider(latency_seconds=0.25)

    # When two jobs are sent
    provider.send(sms("a"))
    provider.send(sms("b"))

    # Then each send waited the latency
    assert sleeps == [0.25, 0.25]


def test_latency_does_not_serialise_concurrent_senders() -> None:
    # Given a sandbox with 100 ms of latency and eight threads
    provider = SandboxProvider(latency_seconds=0.1)
    threads = [
        threading.Thread(target=provider.send, args=(sms(f"job-{index}"),)) for index in range(8)
    ]

    # When they send at once
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    # Then they waited side by side, not one after another (8 x 100 ms)
    assert elapsed < 0.5
    assert provider.calls == 8


def test_concurrent_retries_accept_every_job_exactly_once(tmp_path: Path) -> None:
    # Given a flaky sandbox with an outbox, and 16 threads each retrying their jobs until accepted
    outbox = tmp_path / "outbox.jsonl"
    provider = SandboxProvider(failure_rate=0.2, seed=7, outbox_path=outbox)
    jobs = [f"job-{index}" for index in range(1600)]
    failures = 0
    failures_lock = threading.Lock()

    def worker(my_jobs: list[str]) -> None:
        nonlocal failures
        for job_id in my_jobs:
            while True:
                try:
                    provider.send(sms(job_id))
                    break
                except RetryableSendError:
                    with failures_lock:
                        failures += 1

    threads = [threading.Thread(target=worker, args=(jobs[i::16],)) for i in range(16)]

    # When they all run at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every job was accepted exactly once and every attempt was counted
    assert provider.successes_by_job == dict.fromkeys(jobs, 1)
    assert provider.calls == len(jobs) + failures
    assert failures > 0
    assert len(provider.sent) == len(jobs)
    lines = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines()]
    assert sorted(line["job_id"] for line in lines) == sorted(jobs)


def test_outbox_shows_what_would_have_been_sent(tmp_path: Path) -> None:
    # Given a sandbox writing to an outbox in a directory that does not exist yet
    outbox = tmp_path / "local" / "outbox.jsonl"
    provider = SandboxProvider(outbox_path=outbox)

    # When one job is accepted and one is refused
    accepted = provider.send(sms(context={"campaign": "signup"}, origination="CourierCo"))
    with pytest.raises(PermanentSendError):
        provider.send(sms("job-2", to="+9990000000"))

    # Then only the accepted one is in the outbox, in full, text kept readable
    text = outbox.read_text(encoding="utf-8")
    assert "인증번호" in text
    [line] = [json.loads(row) for row in text.splitlines()]
    assert line["message_id"] == accepted.message_id
    assert line["job_id"] == "job-1"
    assert line["to"] == TO
    assert line["body"] == "인증번호는 123456 입니다"
    assert line["origination"] == "CourierCo"
    assert line["context"] == {"campaign": "signup"}
    assert line["accepted_at"]


@pytest.mark.parametrize(
    "options", [{"failure_rate": 1.5}, {"failure_rate": -0.1}, {"latency_seconds": -1.0}]
)
def test_nonsense_options_are_refused(options: dict[str, Any]) -> None:
    # Given / When / Then: out-of-range fault settings stop the provider being built
    with pytest.raises(ValueError, match="must"):
        SandboxProvider(**options)


def test_from_settings_reads_latency_failure_rate_and_outbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given sandbox settings in milliseconds, a certain failure and an outbox
    sleeps: list[float] = []
    monkeypatch.setattr("courier.sms.providers.sandbox.time.sleep", sleeps.append)
    outbox = tmp_path / "outbox.jsonl"
    settings = Settings(
        sms_provider="sandbox",
        sms_sandbox_latency_ms=250,
        sms_sandbox_failure_rate=1.0,
        sms_sandbox_outbox=str(outbox),
    )

    # When the factory builds the provider and a job is sent
    provider = build_provider(settings)
    with pytest.raises(RetryableSendError):
        provider.send(sms())

    # Then it is the sandbox, it slept 250 ms and it failed as configured
    assert isinstance(provider, SandboxProvider)
    assert provider.name == "sandbox"
    assert sleeps == [0.25]
    assert not outbox.exists()


def test_from_settings_defaults_accept_everything() -> None:
    # Given default settings
    provider = SandboxProvider.from_settings(Settings(sms_provider="sandbox"))

    # When a job is sent
    accepted = provider.send(sms())

    # Then it is accepted at once
    assert accepted.provider == "sandbox"
    assert provider.successes_by_job == {"job-1": 1}
