"""A campaign's record and states, and the storage the campaign domain needs (a Protocol)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from courier.campaigns.audience import AudienceRow


class CampaignState(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    LAUNCHING = "launching"
    LAUNCHED = "launched"
    CANCELLED = "cancelled"


class CampaignNotFound(LookupError):
    """No campaign with this id."""


class CampaignConflict(ValueError):
    """The campaign's state does not allow this change (the API answers 409)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Creator:
    sub: str
    username: str


@dataclass(slots=True)
class Campaign:
    """A campaign as stored; `audience` is the summary of its validated rows (None: no upload)."""

    id: str
    name: str
    template: str
    state: CampaignState
    created_by: Creator
    created_at: datetime
    updated_at: datetime
    launch_at: datetime | None = None
    launched_at: datetime | None = None
    finished_at: datetime | None = None
    cancelled_at: datetime | None = None
    audience: dict[str, Any] | None = None
    chunks_queued: int = 0
    jobs_queued: int = 0
    last_row_queued: int = 0

    def summary(self) -> dict[str, Any]:
        """What an audit entry records about the campaign (no numbers, no texts of rows)."""
        counts = (self.audience or {}).get("counts")
        return {"state": self.state.value, "name": self.name, "audience": counts}


@dataclass(frozen=True, slots=True)
class Recipient:
    """A valid row as the launcher reads it back."""

    row: int
    phone: str
    variables: dict[str, str] = field(default_factory=dict)


class CampaignStore(Protocol):
    def create(self, campaign: Campaign) -> None: ...

    def get(self, campaign_id: str, *, fresh: bool = False) -> Campaign | None:
        """The campaign; `fresh` reads the writer (a change just made, or a state to act on)."""
        ...

    def recent(self, limit: int) -> list[Campaign]: ...

    def replace_audience(
        self, campaign_id: str, rows: list[AudienceRow], summary: dict[str, Any], at: datetime
    ) -> bool:
        """Swap the rows of a draft campaign; False when it is no longer a draft."""
        ...

    def transition(
        self,
        campaign_id: str,
        allowed: frozenset[CampaignState],
        to: CampaignState,
        at: datetime,
        *,
        launch_at: datetime | None = None,
    ) -> bool:
        """Move to `to` when the state is one of `allowed` (atomically); whether it moved."""
        ...

    def recipients_after(self, campaign_id: str, after_row: int, limit: int) -> list[Recipient]:
        """Valid rows after `after_row`, in row order."""
        ...

    def record_chunk(self, campaign_id: str, last_row: int, jobs: int, at: datetime) -> None:
        """Count one chunk queued up to `last_row` (never moves the mark back)."""
        ...

    def queued_phones(self, campaign_id: str, up_to_row: int) -> list[str]:
        """The numbers of the valid rows queued so far (progress derives their job ids)."""
        ...
