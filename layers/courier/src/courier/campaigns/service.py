"""What an admin does with campaigns: create, upload the audience, preview, launch, cancel.

Each change is recorded in the audit log with a summary before and after (counts, states; no
numbers and no message texts). The routes call one method each; storage, the opt-out list, the
status records and the launcher queue come in as small interfaces.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from courier.admin.audit import AuditActor, AuditLog
from courier.campaigns.audience import Audience, OptedOutLookup, RowStatus, read_audience
from courier.campaigns.launch import MAX_LAUNCHER_DELAY_SECONDS, check_launch_time
from courier.campaigns.model import (
    Campaign,
    CampaignConflict,
    CampaignNotFound,
    CampaignState,
    CampaignStore,
    Creator,
)
from courier.campaigns.progress import Progress, StatusLookup, campaign_progress
from courier.campaigns.template import MessagePreview, parse_template, preview_text

MAX_NAME_CHARS = 200
LAUNCHABLE = frozenset({CampaignState.DRAFT, CampaignState.CANCELLED, CampaignState.LAUNCHING})
CANCELLABLE = frozenset({CampaignState.DRAFT, CampaignState.SCHEDULED, CampaignState.LAUNCHING})


class LaunchQueue(Protocol):
    def request(self, campaign_id: str, delay_seconds: int) -> None:
        """Have the launcher work on the campaign after `delay_seconds` (at most 900)."""
        ...


@dataclass(frozen=True, slots=True)
class CampaignRules:
    """The settings a campaign is checked against."""

    price_per_part: Decimal
    max_parts: int
    horizon: timedelta


@dataclass(frozen=True, slots=True)
class CampaignView:
    """A campaign with its preview and, once it has jobs queued, its progress."""

    campaign: Campaign
    variables: tuple[str, ...]
    sample: MessagePreview
    cost_per_message: Decimal
    total_cost: Decimal
    progress: Progress | None


class CampaignService:
    def __init__(
        self,
        store: CampaignStore,
        audit: AuditLog,
        launcher: LaunchQueue,
        opted_out: OptedOutLookup,
        statuses: StatusLookup,
        rules: CampaignRules,
        *,
        clock: Callable[[], datetime],
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._store = store
        self._audit = audit
        self._launcher = launcher
        self._opted_out = opted_out
        self._statuses = statuses
        self._rules = rules
        self._clock = clock
        self._new_id = new_id

    def create(self, actor: AuditActor, name: str, template: str, request_id: str) -> Campaign:
        """A new draft; TemplateError when the template cannot be used."""
        parse_template(template)
        name = name.strip()
        if not name or len(name) > MAX_NAME_CHARS:
            raise ValueError(f"name must be 1 to {MAX_NAME_CHARS} characters")
        now = self._clock()
        campaign = Campaign(
            id=self._new_id(),
            name=name,
            template=template,
            state=CampaignState.DRAFT,
            created_by=Creator(actor.sub, actor.username),
            created_at=now,
            updated_at=now,
        )
        self._store.create(campaign)
        self._audit.record(
            actor, "campaign.create", campaign.id, after=campaign.summary(), request_id=request_id
        )
        return campaign

    def get(self, campaign_id: str, *, fresh: bool = False) -> Campaign:
        campaign = self._store.get(campaign_id, fresh=fresh)
        if campaign is None:
            raise CampaignNotFound(campaign_id)
        return campaign

    def recent(self, limit: int) -> list[Campaign]:
        return self._store.recent(limit)

    def upload_audience(
        self, actor: AuditActor, campaign_id: str, csv_text: str, request_id: str
    ) -> Audience:
        """Validate the CSV and store its rows (a draft only); AudienceFileError for the file."""
        before = self.get(campaign_id, fresh=True)
        self._require(before, frozenset({CampaignState.DRAFT}), "the audience of a draft")
        audience = read_audience(
            csv_text,
            parse_template(before.template),
            max_parts=self._rules.max_parts,
            opted_out=self._opted_out,
        )
        summary = audience.summary()
        if not self._store.replace_audience(campaign_id, audience.rows, summary, self._clock()):
            raise CampaignConflict("not_draft", "the campaign is no longer a draft")
        self._audit.record(
            actor,
            "campaign.audience",
            campaign_id,
            before=before.summary(),
            after={**before.summary(), "audience": summary["counts"]},
            request_id=request_id,
        )
        return audience

    def view(self, campaign_id: str) -> CampaignView:
        # The writer: the page polls right after a launch or an upload and must see it.
        campaign = self.get(campaign_id, fresh=True)
        template = parse_template(campaign.template)
        sample = preview_text(template.sample(), self._rules.price_per_part)
        audience = campaign.audience or {}
        max_parts = int(audience.get("max_parts") or sample.parts)
        total = self._rules.price_per_part * int(audience.get("parts_total") or 0)
        progress = None
        if campaign.last_row_queued:
            phones = self._store.queued_phones(campaign_id, campaign.last_row_queued)
            progress = campaign_progress(campaign_id, phones, self._statuses)
        return CampaignView(
            campaign=campaign,
            variables=template.variables,
            sample=sample,
            cost_per_message=self._rules.price_per_part * max_parts,
            total_cost=total,
            progress=progress,
        )

    def launch(
        self, actor: AuditActor, campaign_id: str, at: datetime | None, request_id: str
    ) -> Campaign:
        """Launch now or at `at` (within the scheduling horizon); ValueError for a bad time."""
        now = self._clock()
        before = self.get(campaign_id, fresh=True)
        self._require(before, LAUNCHABLE, "a launch of a draft or cancelled campaign")
        valid = int(((before.audience or {}).get("counts") or {}).get(RowStatus.VALID.value, 0))
        if valid == 0:
            raise CampaignConflict("no_recipients", "upload an audience with valid rows first")
        when = check_launch_time(at, now, self._rules.horizon)
        target = CampaignState.SCHEDULED if when else CampaignState.LAUNCHING
        if not self._store.transition(campaign_id, LAUNCHABLE, target, now, launch_at=when):
            raise CampaignConflict("state_changed", "the campaign changed meanwhile; reload it")
        delay = 0 if when is None else min(MAX_LAUNCHER_DELAY_SECONDS, _seconds_until(when, now))
        self._launcher.request(campaign_id, delay)
        after = self.get(campaign_id, fresh=True)
        self._audit.record(
            actor,
            "campaign.launch",
            campaign_id,
            before=before.summary(),
            after={**after.summary(), "launch_at": when.isoformat() if when else None},
            request_id=request_id,
        )
        return after

    def cancel(self, actor: AuditActor, campaign_id: str, request_id: str) -> Campaign:
        """Stop the chunks not yet queued (the launcher checks the state between chunks)."""
        before = self.get(campaign_id, fresh=True)
        self._require(before, CANCELLABLE, "cancelling a campaign not yet launched")
        if not self._store.transition(
            campaign_id, CANCELLABLE, CampaignState.CANCELLED, self._clock()
        ):
            raise CampaignConflict("state_changed", "the campaign changed meanwhile; reload it")
        after = self.get(campaign_id, fresh=True)
        self._audit.record(
            actor,
            "campaign.cancel",
            campaign_id,
            before=before.summary(),
            after={**after.summary(), "jobs_queued": after.jobs_queued},
            request_id=request_id,
        )
        return after

    @staticmethod
    def _require(campaign: Campaign, states: frozenset[CampaignState], what: str) -> None:
        if campaign.state not in states:
            raise CampaignConflict(
                "wrong_state", f"{what} only; this campaign is {campaign.state.value}"
            )


def _seconds_until(when: datetime, now: datetime) -> int:
    return max(0, int((when - now).total_seconds()) + 1)


def summary_counts(summary: dict[str, Any] | None) -> dict[str, int]:
    return dict((summary or {}).get("counts") or {})
