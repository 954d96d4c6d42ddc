"""SmsSender.deliver with in-memory adapters: the per-job rules, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from courier.rate_limit import RateLimitExceeded
from courier.sms.contract import SmsJob
from courier.sms.delivery import DeferJob, PoisonJob, RetryLater, SmsSender
from courier.sms.providers import PermanentSendError, RetryableSendError, UnknownOutcomeError
from courier.sms.providers.sandbox import SandboxProvider
from courier.sms.status import SmsStatus
from tests.unit.fakes import (
    CountingLimiter,
    InMemoryIdempotencyStore,
    RecordingStatus,
    SetOptOuts,
    job,
)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Harness:
    def __init__(
        self,
        *,
        provider: object | None = None,
        opted_out: tuple[str, ...] = (),
        idempotency: InMemoryIdempotencyStore | None = None,
    ) -> None:
        self.provider = provider or SandboxProvider()
        self.status = RecordingStatus()
        self.limiter = CountingLimiter()
        self.idempotency = idempotency or InMemoryIdempotencyStore()
        self.now = NOW
        self.sender = SmsSender(
            provider=self.provider,  # type: ignore[arg-type]
            status=self.status,
            opt_outs=SetOptOuts(*opted_out),
            rate_limiter=self.limiter,
            idempotency_store=self.idempotency,
            max_parts=3,
            schedule_horizon=timedelta(days=7),
            idempotency_ttl_seconds=3600,
            in_progress_stale_seconds=120,
            clock=lambda: self.now,
        )

    def deliver(self, **overrides: object) -> object:
        return self.sender.deliver(SmsJob.model_validate(job(**overrides)))


class Failing:
    name = "failing"
    sends_receipts = True

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.calls = 0

    def send(self, message: object) -> object:
        self.calls += 1
        raise self.error


def test_a_job_is_sent_once_with_its_parts_counted_by_the_limiter() -> None:
    # Given a sender
    harness = Harness()

    # When a two-part GSM-7 job is delivered twice
    first = harness.deliver(body="x" * 161)
    second = harness.deliver(body="x" * 161)

    # Then the provider saw it once, the replay is flagged; the limiter is charged two tokens
    # per delivery (it is asked before the idempotent section, so a refusal never has to undo
    # an INPROGRESS record)
    assert harness.provider.successes_by_job == {"job-1": 1}  # type: ignore[attr-defined]
    assert harness.limiter.tokens == [2, 2]
    assert (first.status, first.parts, first.deduplicated) == ("SENT", 2, False)  # type: ignore[attr-defined]
    assert (second.status, second.deduplicated) == ("SENT", True)  # type: ignore[attr-defined]
    # And the status was written both times with the same send time (a replay heals a lost write)
    assert [c.status for c in harness.status.changes] == [SmsStatus.SENT, SmsStatus.SENT]
    assert harness.status.changes[0].at == harness.status.changes[1].at == NOW
    assert harness.status.facts[0]["to_masked"] == "+82********78"
    assert "body" not in harness.status.facts[0]


@pytest.mark.parametrize(
    ("overrides", "opted_out", "reason"),
    [
        ({"to": "+820000000000"}, (), "INVALID_NUMBER"),
        ({"body": "x" * 460}, (), "TOO_MANY_PARTS"),
        ({}, ("+821012345678",), "OPTED_OUT"),
    ],
)
def test_permanent_problems_fail_without_calling_the_provider(
    overrides: dict[str, object], opted_out: tuple[str, ...], reason: str
) -> None:
    # Given a sender (and, for one case, an opted-out number)
    harness = Harness(opted_out=opted_out)

    # When the job is delivered
    outcome = harness.deliver(**overrides)

    # Then it is FAILED with the reason, recorded, and the provider was never called
    assert (outcome.status, outcome.reason) == ("FAILED", reason)  # type: ignore[attr-defined]
    assert harness.provider.calls == 0  # type: ignore[attr-defined]
    assert harness.status.changes[0].status == SmsStatus.FAILED
    assert harness.status.changes[0].reason == reason


def test_provider_permanent_error_is_recorded_and_not_retried() -> None:
    # Given a provider that rejects the number
    provider = Failing(PermanentSendError("INVALID_NUMBER", "rejected"))
    harness = Harness(provider=provider)

    # When the job is delivered twice
    first = harness.deliver()
    second = harness.deliver()

    # Then it FAILED once for good: the replay returns the saved outcome without a call
    assert (first.status, first.reason) == ("FAILED", "INVALID_NUMBER")  # type: ignore[attr-defined]
    assert second.deduplicated  # type: ignore[attr-defined]
    assert provider.calls == 1


def test_retryable_errors_free_the_job_for_the_next_attempt() -> None:
    # Given a provider that throttles, then one that works
    harness = Harness(provider=Failing(RetryableSendError("THROTTLED", "slow down")))

    # When the first attempt is throttled
    with pytest.raises(RetryLater) as raised:
        harness.deliver()

    # Then the job is handed back and no idempotency record blocks the retry
    assert raised.value.code == "THROTTLED"
    assert harness.idempotency.records == {}
    assert harness.status.changes == []
    harness.sender._provider = SandboxProvider()  # type: ignore[attr-defined]
    assert harness.deliver().status == "SENT"  # type: ignore[attr-defined]


def test_rate_limit_wait_beyond_budget_defers_the_job() -> None:
    # Given a limiter with no slot inside the budget
    harness = Harness()

    def refuse(tokens: int) -> float:
        raise RateLimitExceeded(30.0)

    harness.limiter.acquire = refuse  # type: ignore[method-assign]

    # When a job is delivered, Then it is deferred for the limiter's wait and nothing was sent
    with pytest.raises(DeferJob) as raised:
        harness.deliver()
    assert (raised.value.code, raised.value.seconds) == ("RATE_LIMITED", 30.0)
    assert harness.provider.calls == 0  # type: ignore[attr-defined]
    assert harness.idempotency.records == {}


def test_same_job_id_with_another_text_is_poison() -> None:
    # Given a sent job
    harness = Harness()
    harness.deliver()

    # When its job_id comes back with another body, Then it is poison, not a duplicate
    with pytest.raises(PoisonJob) as raised:
        harness.deliver(body="something else")
    assert raised.value.code == "JOB_ID_REUSED"
    assert harness.provider.calls == 1  # type: ignore[attr-defined]


def test_scheduled_jobs_are_deferred_or_refused_beyond_the_horizon() -> None:
    harness = Harness()

    # When a job is due in an hour, Then it is deferred by that hour and nothing is recorded
    soon = harness.deliver(send_at=(NOW + timedelta(hours=1)).isoformat())
    assert (soon.status, soon.defer_seconds) == ("DEFERRED", 3600.0)  # type: ignore[attr-defined]
    assert harness.status.changes == []

    # When a job is due in thirty days, Then it FAILED: past the seven-day horizon
    late = harness.deliver(job_id="job-2", send_at=(NOW + timedelta(days=30)).isoformat())
    assert (late.status, late.reason) == ("FAILED", "SCHEDULE_TOO_FAR")  # type: ignore[attr-defined]

    # When a job's time has passed, Then it goes now
    past = harness.deliver(job_id="job-3", send_at=(NOW - timedelta(minutes=1)).isoformat())
    assert past.status == "SENT"  # type: ignore[attr-defined]


def test_the_idempotency_key_does_not_depend_on_the_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given one job delivered by the transactional sender function
    harness = Harness()
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "courier-SmsTransactionalSender")
    harness.deliver()

    # When the same job reaches the bulk sender function (sharing the idempotency table)
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "courier-SmsBulkSender")
    replay = harness.deliver()

    # Then it is a duplicate there too
    assert replay.deduplicated  # type: ignore[attr-defined]
    assert harness.provider.calls == 1  # type: ignore[attr-defined]
    assert all(key.startswith("courier.sms.job#") for key in harness.idempotency.records)


def test_an_answer_lost_after_sending_is_recorded_unknown_and_never_sent_again() -> None:
    # Given a provider whose answer is lost after it took the request
    provider = Failing(UnknownOutcomeError("TIMEOUT_AFTER_SEND", "read timeout"))
    harness = Harness(provider=provider)

    # When the job is delivered, and SQS brings it back
    first = harness.deliver()
    second = harness.deliver()

    # Then it is UNKNOWN with the reason, the provider was called once, and the key is kept
    assert (first.status, first.reason) == ("UNKNOWN", "OUTCOME_UNKNOWN:TIMEOUT_AFTER_SEND")  # type: ignore[attr-defined]
    assert (second.status, second.deduplicated) == ("UNKNOWN", True)  # type: ignore[attr-defined]
    assert provider.calls == 1
    assert [r.status for r in harness.idempotency.records.values()] == ["COMPLETED"]
    assert harness.status.changes[0].status == SmsStatus.UNKNOWN
    assert harness.status.changes[0].provider == "failing"


class DiesWhileSending:
    """The process dies inside the provider call (after the provider took the message)."""

    name = "end-user-messaging"
    sends_receipts = True

    def __init__(self) -> None:
        self.calls = 0

    def send(self, message: object) -> object:
        self.calls += 1
        raise SystemExit("instance killed")


def test_a_delivery_interrupted_mid_send_is_unknown_after_the_wait_and_never_resent() -> None:
    # Given a job whose delivery died inside the provider call (its record left INPROGRESS)
    # (Powertools stamps records with the wall clock, so this sender's clock starts there too)
    provider = DiesWhileSending()
    harness = Harness(provider=provider)
    start = harness.now = datetime.now(UTC)
    with pytest.raises(SystemExit):
        harness.deliver()
    assert [r.status for r in harness.idempotency.records.values()] == ["INPROGRESS"]

    # When SQS brings it back a minute later, Then it waits for the other delivery
    harness.now = start + timedelta(seconds=60)
    with pytest.raises(DeferJob) as raised:
        harness.deliver()
    assert raised.value.code == "IN_PROGRESS"
    assert 55 <= raised.value.seconds <= 65

    # When it comes back after no invocation can still be alive
    harness.now = start + timedelta(seconds=150)
    outcome = harness.deliver()

    # Then it is UNKNOWN (interrupted), the provider was never called again, and a later
    # redelivery (a redrive) replays that without asking the provider
    assert (outcome.status, outcome.reason) == ("UNKNOWN", "OUTCOME_UNKNOWN:INTERRUPTED")  # type: ignore[attr-defined]
    assert harness.deliver().deduplicated  # type: ignore[attr-defined]
    assert provider.calls == 1
    assert harness.status.changes[-1].status == SmsStatus.UNKNOWN


def test_jobs_of_a_provider_without_receipts_are_marked_so() -> None:
    # Given the sandbox provider (like SNS, its receipts never reach the status function)
    harness = Harness()

    # When a job is sent
    harness.deliver()

    # Then its record says no receipt will follow, so SENT is final
    assert harness.status.facts[0]["delivery_receipts"] == "none"


def test_only_end_user_messaging_receipts_reach_the_status_function() -> None:
    from courier.sms.providers.end_user_messaging import EndUserMessagingProvider
    from courier.sms.providers.sns import SnsProvider

    # SNS reports delivery only to CloudWatch Logs: its jobs are marked, SENT is their last state
    assert EndUserMessagingProvider.sends_receipts is True
    assert SnsProvider.sends_receipts is False
    assert SandboxProvider.sends_receipts is False


class SaveFailsOnce(InMemoryIdempotencyStore):
    """The result update is throttled once (a put or delete still works)."""

    def __init__(self, failures: int = 1) -> None:
        super().__init__()
        self.failures = failures

    def _update_record(self, data_record: object) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("ProvisionedThroughputExceededException")
        super()._update_record(data_record)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("opted_out", "status", "reason"),
    [(("+821012345678",), "FAILED", "OPTED_OUT"), ((), "SENT", None)],
)
def test_an_outcome_whose_result_could_not_be_saved_is_still_recorded(
    opted_out: tuple[str, ...], status: str, reason: str | None
) -> None:
    # Given an idempotency store that throttles the update saving the result, once
    store = SaveFailsOnce()
    harness = Harness(opted_out=opted_out, idempotency=store)

    # When the job is delivered
    outcome = harness.deliver(to="+821012345678")

    # Then its true outcome is recorded (not retried, never left to become UNKNOWN), the result
    # is saved on the second try, and SQS bringing it back replays it
    assert (outcome.status, outcome.reason) == (status, reason)  # type: ignore[attr-defined]
    assert harness.status.changes[-1].status == SmsStatus(status)
    assert [r.status for r in store.records.values()] == ["COMPLETED"]
    assert harness.deliver(to="+821012345678").deduplicated  # type: ignore[attr-defined]


def test_a_result_that_cannot_be_saved_at_all_is_recorded_and_never_resent() -> None:
    # Given a store whose result updates keep failing
    harness = Harness(idempotency=SaveFailsOnce(failures=99))
    harness.now = datetime.now(UTC)  # Powertools stamps records with the wall clock

    # When the job is delivered
    outcome = harness.deliver()

    # Then the send is recorded SENT, and a duplicate waits on the in-progress record (it is
    # never sent again)
    assert outcome.status == "SENT"  # type: ignore[attr-defined]
    assert harness.status.changes[-1].status == SmsStatus.SENT
    with pytest.raises(DeferJob):
        harness.deliver()
    assert len(harness.provider.sent) == 1  # type: ignore[attr-defined]
