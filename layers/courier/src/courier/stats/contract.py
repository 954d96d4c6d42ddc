"""What the state machine passes between the steps: small JSON documents, far below 256 KB.

    plan      {} | {"date": "YYYY-MM-DD"}          -> PlanResult {"date", "days": [DayPlan
                                                       {"date", "shards": [ShardTask]}]}
    aggregate AggregateRequest {"date", "source", "shard", "run"}
                                                  -> PartialRef {"source", "shard", "records",
                                                                 "partial_key"}
    publish   {"date", "run", "partials": [PartialRef]}
                                                  -> PublishResult {"date", "summary",
                                                                    "report_json", "report_csv"}

`run` is the Step Functions execution name: it keys the partials, so two executions of the same
day never read each other's. Inputs ignore keys they do not know (a scheduled start or an
ItemSelector may add some); outputs carry exactly the documented keys.
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

# An execution name (1-80 characters, never "/" or whitespace in Step Functions): one path
# segment of a partial's key.
RunName = Annotated[str, Field(pattern=r"^[^/\s]{1,80}$")]


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
    """One shard Map item as planned: one day-shard of one source."""

    date: Day
    source: Source
    shard: int = Field(ge=0, le=255)

    @property
    def day_shard(self) -> str:
        """The `by_day_shard` partition key both writers use: `<YYYY-MM-DD>#<NN>`."""
        return f"{self.date}#{self.shard:02d}"


class AggregateRequest(ShardTask):
    """The aggregate step's input: the planned item plus the execution it belongs to."""

    run: RunName


class DayPlan(_Output):
    """One day Map item: a day and every shard to aggregate for it."""

    date: Day
    shards: list[ShardTask]


class PlanResult(_Output):
    """`date` is the newest day of the run (the notification's subject); `days` newest first."""

    date: Day
    days: list[DayPlan]


class PartialRef(_Input):
    """The aggregate step's output (a publish input): where the partial lies, not the partial."""

    source: Source
    shard: int = Field(ge=0, le=255)
    records: int = Field(ge=0)
    partial_key: str = Field(min_length=1)


class PublishRequest(_Input):
    date: Day
    run: RunName
    partials: list[PartialRef]


class PublishResult(_Output):
    date: Day
    summary: str
    report_json: str
    report_csv: str


def partial_key(day: str, run: str, source: Source, shard: int) -> str:
    """`partials/<date>/<run>/<source>-<NN>.json` in the reports bucket: one set per execution."""
    return f"partials/{day}/{run}/{source}-{shard:02d}.json"


def report_keys(day: str) -> tuple[str, str]:
    """The JSON and CSV report keys of a day in the reports bucket."""
    return f"reports/{day}/daily-stats.json", f"reports/{day}/daily-stats.csv"
