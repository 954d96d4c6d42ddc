"""In-memory stand-ins for the campaign domain's storage, launcher queue and SMS producer."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from courier.admin.audit import AuditEntry, AuditFilters, AuditPosition, NewAuditEntry
from courier.campaigns.audience import AudienceRow, RowStatus
from courier.campaigns.model import Campaign, CampaignState, Recipient
from courier.sms.contract import SmsJob
from courier.sms.producer import JobError, JobResult


class MemoryCampaignStore:
    def __init__(self) -> None:
        self.campaigns: dict[str, Campaign] = {}
        self.rows: dict[str, list[AudienceRow]] = {}
        self.reads = 0

    def create(self, campaign: Campaign) -> None:
        self.campaigns[campaign.id] = copy.deepcopy(campaign)

    def get(self, campaign_id: str, *, fresh: bool = False) -> Campaign | None:
        self.reads += 1
        found = self.campaigns.get(campaign_id)
        return copy.deepcopy(found) if found else None

    def recent(self, limit: int) -> list[Campaign]:
        ordered = sorted(self.campaigns.values(), key=lambda c: c.created_at, reverse=True)
        return [copy.deepcopy(c) for c in ordered[:limit]]

    def replace_audience(
        self, campaign_id: str, rows: list[AudienceRow], summary: dict[str, Any], at: datetime
    ) -> bool:
        campaign = self.campaigns[campaign_id]
        if campaign.state is not CampaignState.DRAFT:
            return False
        self.rows[campaign_id] = list(rows)
        campaign.audience, campaign.updated_at = summary, at
        return True

    def transition(
        self,
        campaign_id: str,
        allowed: frozenset[CampaignState],
        to: CampaignState,
        at: datetime,
        *,
        launch_at: datetime | None = None,
    ) -> bool:
        campaign = self.campaigns[campaign_id]
        if campaign.state not in allowed:
            return False
        campaign.state, campaign.updated_at = to, at
        if to is CampaignState.SCHEDULED:
            campaign.launch_at = launch_at
        if to is CampaignState.LAUNCHING and campaign.launched_at is None:
            campaign.launched_at = at
        if to is CampaignState.LAUNCHED:
            campaign.finished_at = at
        if to is CampaignState.CANCELLED:
            campaign.cancelled_at = at
        return True

    def recipients_after(self, campaign_id: str, after_row: int, limit: int) -> list[Recipient]:
        valid = [
            Recipient(r.row, r.phone, dict(r.variables))
            for r in self.rows.get(campaign_id, [])
            if r.status is RowStatus.VALID and r.row > after_row
        ]
        return valid[:limit]

    def record_chunk(self, campaign_id: str, last_row: int, jobs: int, at: datetime) -> None:
        campaign = self.campaigns[campaign_id]
        if last_row > campaign.last_row_queued:
            campaign.last_row_queued = last_row
            campaign.chunks_queued += 1
            campaign.jobs_queued += jobs

    def queued_phones(self, campaign_id: str, up_to_row: int) -> list[str]:
        return [
            r.phone
            for r in self.rows.get(campaign_id, [])
            if r.status is RowStatus.VALID and r.row <= up_to_row
        ]


@dataclass
class RecordingSender:
    """Accepts every job (or fails those whose number is in `fail_numbers`); keeps the calls."""

    calls: list[list[SmsJob]] = field(default_factory=list)
    fail_numbers: set[str] = field(default_factory=set)
    before_send: Any = None

    def send(self, jobs: Sequence[SmsJob]) -> list[JobResult]:
        if self.before_send:
            self.before_send(len(self.calls))
        self.calls.append(list(jobs))
        return [
            JobResult(i, j.job_id, "failed", error=JobError("Boom", "down"))
            if j.to in self.fail_numbers
            else JobResult(i, j.job_id, "queued", message_id=f"m-{i}")
            for i, j in enumerate(jobs)
        ]

    @property
    def job_ids(self) -> list[str]:
        return [job.job_id for call in self.calls for job in call]


@dataclass
class RecordingLaunchQueue:
    requests: list[tuple[str, int]] = field(default_factory=list)

    def request(self, campaign_id: str, delay_seconds: int) -> None:
        self.requests.append((campaign_id, delay_seconds))


class MemoryAuditStore:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append(self, entry: NewAuditEntry) -> AuditEntry:
        stored = AuditEntry(id=len(self.entries) + 1, **entry.model_dump())
        self.entries.append(stored)
        return stored

    def page(
        self, filters: AuditFilters, after: AuditPosition | None, limit: int
    ) -> tuple[list[AuditEntry], bool]:
        return list(reversed(self.entries))[:limit], len(self.entries) > limit
