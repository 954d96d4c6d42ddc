"""The sender's idempotency claim in the job's own item (courier.sms.job_claims), on moto."""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from courier.settings import get_settings
from courier.sms.contract import SmsJob
from courier.sms.delivery import PoisonJob, RetryLater
from courier.sms.providers import OutboundSms, ProviderAccepted, RetryableSendError
from courier.sms.providers.sandbox import SandboxProvider
from courier.sms.status import SmsStatus, StatusChange
from courier.sms.status_store import SmsStatusStore
from courier.sms.wiring import build_sender
from tests.harness import SmsStack, load_event


class CountingWrites:
    """Counts the SmsMessages write calls the sender's client makes (botocore's event hooks)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == "SmsMessages":
            self.calls[model.name] += 1


class FailingOnce:
    """The sandbox, but the first send of each job is throttled (a retryable failure)."""

    name = "sandbox"
    sends_receipts = True

    def __init__(self) -> None:
        self.inner = SandboxProvider(seed=3)
        self.failed: set[str] = set()

    def send(self, message: OutboundSms) -> ProviderAccepted:
        if message.job_id not in self.failed:
            self.failed.add(message.job_id)
            raise RetryableSendError("THROTTLED", "ThrottlingException")
        return self.inner.send(message)


def a_job(**changes: Any) -> SmsJob:
    record = copy.deepcopy(load_event("sms/sender-valid.json")["Records"][0])
    return SmsJob.model_validate({**json.loads(record["body"]), **changes})


def item(stack: SmsStack, job_id: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = stack.dynamodb.get_item(
        TableName="SmsMessages", Key={"pk": {"S": f"JOB#{job_id}"}}, ConsistentRead=True
    ).get("Item")
    return found


def test_a_send_claims_and_records_its_status_in_two_writes_of_one_item(
    sms_stack: SmsStack,
) -> None:
    # Given the sender as deployed, its DynamoDB writes counted
    provider = SandboxProvider(seed=1)
    sender = build_sender(get_settings(), provider=provider)
    counting = CountingWrites()
    client = sender._idempotency_store.client  # type: ignore[attr-defined]
    client.meta.events.register("provide-client-params.dynamodb", counting)
    job = a_job(job_id="claim-0001")

    # When the job is delivered
    outcome = sender.deliver(job)

    # Then it was sent once, and its one item holds the status and the completed claim
    assert outcome.status == "SENT"
    assert provider.successes_by_job == Counter({"claim-0001": 1})
    stored = item(sms_stack, "claim-0001")
    assert stored is not None
    assert stored["status"]["S"] == "SENT"
    assert stored["claim"]["S"] == "COMPLETED"
    assert json.loads(stored["claim_result"]["S"])["status"] == "SENT"
    # And the writes were the claim and the result with the status: two updates, nothing else
    assert counting.calls == Counter({"UpdateItem": 2})


def test_a_second_delivery_replays_the_result_without_sending(sms_stack: SmsStack) -> None:
    # Given a job already delivered
    provider = SandboxProvider(seed=1)
    sender = build_sender(get_settings(), provider=provider)
    job = a_job(job_id="claim-0002")
    first = sender.deliver(job)

    # When SQS delivers it again
    again = sender.deliver(job)

    # Then the saved result is replayed: one send, the same provider message id
    assert again.deduplicated is True
    assert again.provider_message_id == first.provider_message_id
    assert provider.successes_by_job == Counter({"claim-0002": 1})


def test_the_same_job_id_with_another_text_is_poison(sms_stack: SmsStack) -> None:
    # Given a job already delivered
    sender = build_sender(get_settings(), provider=SandboxProvider(seed=1))
    sender.deliver(a_job(job_id="claim-0003"))

    # When a job with the same id but another body arrives, Then it is refused as reused
    with pytest.raises(PoisonJob) as refused:
        sender.deliver(a_job(job_id="claim-0003", body="another text"))
    assert refused.value.code == "JOB_ID_REUSED"


def test_a_retryable_failure_frees_the_key_and_leaves_no_item(sms_stack: SmsStack) -> None:
    # Given a provider that throttles the first attempt
    provider = FailingOnce()
    sender = build_sender(get_settings(), provider=provider)
    job = a_job(job_id="claim-0004")

    # When the first attempt fails
    with pytest.raises(RetryLater):
        sender.deliver(job)

    # Then the claim-only item is gone (no status, nothing for the lookups to show)
    assert item(sms_stack, "claim-0004") is None
    # And the retry sends it
    assert sender.deliver(job).status == "SENT"
    assert provider.inner.successes_by_job == Counter({"claim-0004": 1})


def test_a_receipt_recorded_first_keeps_its_status_and_the_claim_completes(
    sms_stack: SmsStack,
) -> None:
    # Given a DELIVERED receipt recorded before the sender's own write (receipts may overtake it)
    settings = get_settings()
    SmsStatusStore.from_settings(settings).record(
        StatusChange(
            job_id="claim-0005", status=SmsStatus.DELIVERED, at=datetime.now(UTC), reason=None
        )
    )
    provider = SandboxProvider(seed=1)
    sender = build_sender(settings, provider=provider)

    # When the sender delivers the job
    outcome = sender.deliver(a_job(job_id="claim-0005"))

    # Then the status stays DELIVERED (the higher rank), the job's facts are added, and the
    # claim is COMPLETED, so a redelivery replays instead of sending again
    assert outcome.status == "SENT"
    stored = item(sms_stack, "claim-0005")
    assert stored is not None
    assert stored["status"]["S"] == "DELIVERED"
    assert stored["claim"]["S"] == "COMPLETED"
    assert "phone_key" in stored
    assert "priority" in stored
    assert sender.deliver(a_job(job_id="claim-0005")).deduplicated is True
    assert provider.successes_by_job == Counter({"claim-0005": 1})


def test_a_retryable_failure_after_a_receipt_removes_only_the_claim(
    sms_stack: SmsStack,
) -> None:
    # Given a job whose item a receipt created, and a provider that throttles the first attempt
    settings = get_settings()
    store = SmsStatusStore.from_settings(settings)
    store.record(StatusChange(job_id="claim-0006", status=SmsStatus.FAILED, at=datetime.now(UTC)))
    sender = build_sender(settings, provider=FailingOnce())

    # When the attempt fails
    with pytest.raises(RetryLater):
        sender.deliver(a_job(job_id="claim-0006"))

    # Then the status is kept and the claim's fields are gone
    stored = item(sms_stack, "claim-0006")
    assert stored is not None
    assert stored["status"]["S"] == "FAILED"
    assert not {"claim", "claim_expires", "claim_hash"} & stored.keys()


def test_a_claim_alone_is_no_status(sms_stack: SmsStack) -> None:
    # Given an item holding only a claim (a send in flight)
    sms_stack.dynamodb.put_item(
        TableName="SmsMessages",
        Item={
            "pk": {"S": "JOB#claim-0007"},
            "claim": {"S": "INPROGRESS"},
            "claim_expires": {"N": "4102444800"},
        },
    )

    # When its status is read, Then there is none yet
    assert SmsStatusStore.from_settings(get_settings()).get("claim-0007") is None
