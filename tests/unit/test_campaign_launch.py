"""Campaign launch: stable job ids, chunks through the producer, relaunch, cancel, scheduling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from courier.admin.audit import AuditActor, AuditLog
from courier.campaigns.launch import ChunkNotQueued, LaunchStep, job_id_for, run_launch
from courier.campaigns.launcher import handle_launch_message
from courier.campaigns.model import CampaignConflict, CampaignState
from courier.campaigns.service import CampaignRules, CampaignService
from courier.sms.contract import JOB_ID_PATTERN, Priority
from tests.unit.campaign_fakes import (
    MemoryAuditStore,
    MemoryCampaignStore,
    RecordingLaunchQueue,
    RecordingSender,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN = AuditActor(sub="sub-1", username="alice")


class Harness:
    def __init__(self, *, opted_out: frozenset[str] = frozenset()) -> None:
        self.store = MemoryCampaignStore()
        self.audit = MemoryAuditStore()
        self.queue = RecordingLaunchQueue()
        self.sender = RecordingSender()
        self.now = NOW
        self.statuses: dict[str, str] = {}
        self.service = CampaignService(
            self.store,
            AuditLog(self.audit, clock=lambda: self.now),
            self.queue,
            lambda numbers: set(numbers) & opted_out,
            lambda ids: {i: self.statuses[i] for i in ids if i in self.statuses},
            CampaignRules(Decimal("0.02"), max_parts=6, horizon=timedelta(days=7)),
            clock=lambda: self.now,
        )

    def campaign_with(self, recipients: int) -> str:
        campaign = self.service.create(ADMIN, "Spring sale", "Hi {name}!", "req-1")
        rows = "".join(f"+8210{30000000 + i},N{i}\n" for i in range(recipients))
        self.service.upload_audience(ADMIN, campaign.id, "phone,name\n" + rows, "req-2")
        return campaign.id

    def run(
        self, campaign_id: str, *, chunk_rows: int = 10, time_left: float = 600.0
    ) -> LaunchStep:
        return run_launch(
            campaign_id,
            self.store,
            self.sender,
            clock=lambda: self.now,
            time_left=lambda: time_left,
            chunk_rows=chunk_rows,
        )


def test_job_ids_are_stable_per_campaign_and_recipient_and_fit_the_contract() -> None:
    first = job_id_for("c0ffee", "+821012345678")
    assert first == job_id_for("c0ffee", "+821012345678")
    assert first != job_id_for("c0ffee", "+821012345679")
    assert first != job_id_for("decaf", "+821012345678")
    import re

    assert re.fullmatch(JOB_ID_PATTERN, job_id_for("f" * 32, "+821012345678"))


def test_a_launch_queues_every_valid_row_in_chunks_with_campaign_metadata() -> None:
    # Given a campaign of 25 recipients launched now
    h = Harness()
    campaign_id = h.campaign_with(25)
    h.service.launch(ADMIN, campaign_id, None, "req-3")
    assert h.queue.requests == [(campaign_id, 0)]
    # When the launcher runs with chunks of 10
    step = h.run(campaign_id)
    # Then three chunks went out as bulk jobs naming the campaign, and it is launched
    assert (step.outcome, step.chunks, step.jobs) == ("launched", 3, 25)
    assert [len(call) for call in h.sender.calls] == [10, 10, 5]
    job = h.sender.calls[0][0]
    assert job.priority is Priority.BULK
    assert job.body == "Hi N0!"
    assert job.metadata == {"campaign_id": campaign_id, "campaign_row": 1}
    stored = h.store.campaigns[campaign_id]
    assert (stored.state, stored.chunks_queued, stored.jobs_queued) == (
        CampaignState.LAUNCHED,
        3,
        25,
    )


def test_a_relaunch_from_scratch_sends_the_same_job_ids_only() -> None:
    # Given a campaign fully launched once
    h = Harness()
    campaign_id = h.campaign_with(12)
    h.service.launch(ADMIN, campaign_id, None, "req")
    h.run(campaign_id)
    first = list(h.sender.job_ids)
    # When its progress mark is lost and it is launched again (a crash before the mark was kept)
    stored = h.store.campaigns[campaign_id]
    stored.state, stored.last_row_queued = CampaignState.LAUNCHING, 0
    h.sender.calls.clear()
    h.run(campaign_id)
    # Then the producer saw exactly the same job ids: the sender's idempotency drops them all
    assert h.sender.job_ids == first
    assert len(set(first)) == 12


def test_cancel_between_chunks_stops_the_chunks_not_yet_queued() -> None:
    # Given a 30-recipient campaign launching in chunks of 10
    h = Harness()
    campaign_id = h.campaign_with(30)
    h.service.launch(ADMIN, campaign_id, None, "req")

    def cancel_after_first_chunk(calls_so_far: int) -> None:
        if calls_so_far == 1:
            h.service.cancel(ADMIN, campaign_id, "req-cancel")

    # When an admin cancels while the second chunk is being sent
    h.sender.before_send = cancel_after_first_chunk
    step = h.run(campaign_id)
    # Then the chunk in flight completes and no third chunk is queued
    assert step.outcome == "stopped"
    assert sum(len(c) for c in h.sender.calls) == 20
    assert h.store.campaigns[campaign_id].state is CampaignState.CANCELLED
    # And a relaunch resumes after the last chunk queued
    h.sender.before_send = None
    h.service.launch(ADMIN, campaign_id, None, "req-again")
    h.run(campaign_id)
    assert len(h.sender.job_ids) == 30 == len(set(h.sender.job_ids))


def test_the_launcher_hands_over_when_time_runs_short() -> None:
    h = Harness()
    campaign_id = h.campaign_with(5)
    h.service.launch(ADMIN, campaign_id, None, "req")
    step = h.run(campaign_id, time_left=5.0)
    assert step.outcome == "continue"
    assert h.sender.calls == []


def test_a_chunk_with_jobs_not_queued_fails_the_launch_step_without_moving_the_mark() -> None:
    h = Harness()
    campaign_id = h.campaign_with(3)
    h.service.launch(ADMIN, campaign_id, None, "req")
    h.sender.fail_numbers = {"+821030000001"}
    with pytest.raises(ChunkNotQueued):
        h.run(campaign_id)
    assert h.store.campaigns[campaign_id].last_row_queued == 0


def test_a_scheduled_launch_waits_until_its_time() -> None:
    # Given a campaign scheduled two hours ahead
    h = Harness()
    campaign_id = h.campaign_with(2)
    h.service.launch(ADMIN, campaign_id, NOW + timedelta(hours=2), "req")
    assert h.store.campaigns[campaign_id].state is CampaignState.SCHEDULED
    assert h.queue.requests == [(campaign_id, 900)]
    # When the launcher runs early, it sends nothing and asks to be woken later
    step = h.run(campaign_id)
    assert (step.outcome, step.delay_seconds, h.sender.calls) == ("wait", 900, [])
    # When it runs at the time, it launches
    h.now = NOW + timedelta(hours=2, seconds=1)
    assert h.run(campaign_id).outcome == "launched"
    assert len(h.sender.job_ids) == 2


def test_launch_times_beyond_the_horizon_and_empty_audiences_are_refused() -> None:
    h = Harness()
    campaign_id = h.campaign_with(1)
    with pytest.raises(ValueError, match="scheduling horizon"):
        h.service.launch(ADMIN, campaign_id, NOW + timedelta(days=8), "req")
    empty = h.service.create(ADMIN, "Empty", "Hello", "req")
    with pytest.raises(CampaignConflict) as caught:
        h.service.launch(ADMIN, empty.id, None, "req")
    assert caught.value.code == "no_recipients"


def test_opted_out_rows_are_not_sent_and_every_change_is_audited() -> None:
    h = Harness(opted_out=frozenset({"+821030000001"}))
    campaign_id = h.campaign_with(3)
    h.service.launch(ADMIN, campaign_id, None, "req")
    h.run(campaign_id)
    assert "+821030000001" not in {job.to for call in h.sender.calls for job in call}
    assert len(h.sender.job_ids) == 2
    assert [e.action for e in h.audit.entries] == [
        "campaign.create",
        "campaign.audience",
        "campaign.launch",
    ]
    assert h.audit.entries[1].after["audience"]["opted_out"] == 1


def test_progress_counts_queued_jobs_by_recorded_status() -> None:
    # Given a launched campaign of 4 whose status records say SENT, DELIVERED, FAILED
    h = Harness()
    campaign_id = h.campaign_with(4)
    h.service.launch(ADMIN, campaign_id, None, "req")
    h.run(campaign_id)
    ids = h.sender.job_ids
    h.statuses = {ids[0]: "SENT", ids[1]: "DELIVERED", ids[2]: "FAILED"}
    # When the campaign is viewed
    view = h.service.view(campaign_id)
    # Then progress counts each status, and the job without a record as QUEUED
    assert view.progress is not None
    assert view.progress.by_status == {"DELIVERED": 1, "FAILED": 1, "QUEUED": 1, "SENT": 1}
    assert view.total_cost == Decimal("0.08")
    assert view.sample.encoding == "GSM-7"


def test_a_launched_campaign_can_be_neither_launched_nor_cancelled_again() -> None:
    h = Harness()
    campaign_id = h.campaign_with(1)
    h.service.launch(ADMIN, campaign_id, None, "req")
    h.run(campaign_id)
    for action in (
        lambda: h.service.launch(ADMIN, campaign_id, None, "r"),
        lambda: h.service.cancel(ADMIN, campaign_id, "r"),
    ):
        with pytest.raises(CampaignConflict):
            action()


@pytest.mark.parametrize("body", ["not json at all", '{"campaign": "x"}', '{"campaign_id": "a/b"}'])
def test_a_message_naming_no_campaign_fails_so_it_reaches_the_launch_dlq(body: str) -> None:
    # Given a launcher message that names no campaign (a producer bug, or a hand-sent message)
    h = Harness()

    # When the launcher handles it, then it fails (SQS retries it, then the DLQ and its alarm
    # take it) rather than being dropped, and nothing was sent or queued again
    with pytest.raises(ValueError, match=r"launcher message|Expecting value"):
        handle_launch_message(
            body,
            h.store,
            h.sender,
            h.queue,
            clock=lambda: h.now,
            time_left=lambda: 600.0,
        )
    assert h.sender.calls == []
    assert h.queue.requests == []
