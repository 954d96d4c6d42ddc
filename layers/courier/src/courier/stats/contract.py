"""What the state machine passes between the steps: small JSON documents, far below 256 KB.

    plan      {} | {"date": "YYYY-MM-DD"}          -> PlanResult {"date", "shards": [ShardTask]}
    aggregate ShardTask {"date", "source", "shard"} -> PartialRef {"source", "shard", "records",
                                                                   "partial_key"}
    publish   {"date", "partials": [PartialRef]}   -> PublishResult {"date", "summary",
                                                                      "report_json", "report_csv"}

Inputs ignore keys they do not know (a scheduled start or an ItemSelector may add some); outputs
carry exactly the documented keys.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Source = Literal["sms", "chat"]
SOURCES: tuple[Source, ...] = ("sms", "chat")

DAY_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits only (not \d)


def _calendar_day(value: str) -> str:
    if not DAY_PATTERN.fullmatch(value):
        raise ValueError("must be a date written YYYY-MM-DD")
    date.fromisoformat(value)  # ValueError for an impossible day such as 2026-02-30
    return value


Day = Annotated[str, AfterValidator(_calendar_day)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Output(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlanRequest(_Input):
    """The execution input: no date (or null) means yesterday in the service's timezone.

    `date` stays a plain string here; the planner checks it so every problem with it becomes
    InvalidStatsInput with one clear message.
    """

    date: str | None = None


class ShardTask(_Input):
    """One Map item: one day-shard of one source."""

    date: Day
    source: Source
    shard: int = Field(ge=0, le=255)

    @property
    def day_shard(self) -> str:
        """The `by_day_shard` partition key both writers use: `<YYYY-MM-DD>#<NN>`."""
        return f"{self.date}#{self.shard:02d}"


class PlanResult(_Output):
    date: Day
    shards: list[ShardTask]


class PartialRef(_Input):
    """The aggregate step's output (a publish input): where the partial lies, not the partial."""

    source: Source
    shard: int = Field(ge=0, le=255)
    records: int = Field(ge=0)
    partial_key: str = Field(min_length=1)


class PublishRequest(_Input):
    date: Day
    partials: list[PartialRef]


class PublishResult(_Output):
    date: Day
    summary: str
    report_json: str
    report_csv: str


def partial_key(day: str, source: Source, shard: int) -> str:
    """`partials/<date>/<source>-<NN>.json` in the reports bucket."""
    return f"partials/{day}/{source}-{shard:02d}.json"


def report_keys(day: str) -> tuple[str, str]:
    """The JSON and CSV report keys of a day in the reports bucket."""
    return f"reports/{day}/daily-stats.json", f"reports/{day}/daily-stats.csv"
