"""Launching a campaign: job ids, chunks through the SMS producer, and the launcher's loop.

A launch runs outside the API request: the API moves the campaign to `launching` (or
`scheduled`) and queues a launcher message; the launcher function enqueues chunks of bulk jobs
until the rows run out or its time does, then queues a continuation. Each chunk's job ids come
from the campaign id and the number, so a chunk queued twice (a redelivered launcher message,
a relaunch after a crash before the progress mark was written) carries the same job ids and
the sender's idempotency on `job_id` sends each message once. The state is read from the writer
before every chunk: a cancel stops every chunk not yet queued.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, Protocol

from courier.campaigns.model import Campaign, CampaignState, CampaignStore, Recipient
from courier.campaigns.template import parse_template
from courier.observability import logger
from courier.sms.contract import Priority, SmsJob
from courier.sms.producer import JobResult

CHUNK_ROWS: Final = 100  # ten SendMessageBatch calls, one progress write
MAX_LAUNCHER_DELAY_SECONDS: Final = 900  # SQS DelaySeconds' ceiling
JOB_ID_PREFIX: Final = "cmp"


class JobSender(Protocol):
    def send(self, jobs: Sequence[SmsJob]) -> list[JobResult]: ...


class ChunkNotQueued(RuntimeError):
    """Some jobs of a chunk were not queued after the producer's retries (retry the chunk)."""


def job_id_for(campaign_id: str, phone: str) -> str:
    """The job id of one recipient: stable for the campaign, distinct between campaigns."""
    digest = hashlib.sha256(f"{campaign_id}\n{phone}".encode()).hexdigest()[:32]
    return f"{JOB_ID_PREFIX}.{campaign_id}.{digest}"


def build_jobs(campaign: Campaign, recipients: Sequence[Recipient]) -> list[SmsJob]:
    template = parse_template(campaign.template)
    return [
        SmsJob(
            job_id=job_id_for(campaign.id, r.phone),
            to=r.phone,
            body=template.render(r.variables),
            priority=Priority.BULK,
            metadata={"campaign_id": campaign.id, "campaign_row": r.row},
        )
        for r in recipients
    ]


@dataclass(frozen=True, slots=True)
class LaunchStep:
    """What the launcher did: finished, stopped (cancelled/not launching), or must run again."""

    outcome: Literal["launched", "stopped", "continue", "wait"]
    chunks: int = 0
    jobs: int = 0
    delay_seconds: int = 0


def run_launch(
    campaign_id: str,
    store: CampaignStore,
    sender: JobSender,
    *,
    clock: Callable[[], datetime],
    time_left: Callable[[], float],
    reserve_seconds: float = 30.0,
    chunk_rows: int = CHUNK_ROWS,
) -> LaunchStep:
    """Queue the campaign's next chunks while time is left; what to do next."""
    campaign = store.get(campaign_id, fresh=True)
    if campaign is None:
        logger.warning("campaign launch for a missing campaign", extra={"campaign_id": campaign_id})
        return LaunchStep("stopped")
    if campaign.state is CampaignState.SCHEDULED:
        due = campaign.launch_at
        wait = (due - clock()).total_seconds() if due else 0
        if wait > 0:
            return LaunchStep("wait", delay_seconds=min(MAX_LAUNCHER_DELAY_SECONDS, int(wait) + 1))
        store.transition(
            campaign_id, frozenset({CampaignState.SCHEDULED}), CampaignState.LAUNCHING, clock()
        )
    chunks = jobs = 0
    last_row = campaign.last_row_queued
    while True:
        current = store.get(campaign_id, fresh=True)
        if current is None or current.state is not CampaignState.LAUNCHING:
            logger.info(
                "campaign launch stopped",
                extra={"campaign_id": campaign_id, "state": current and current.state.value},
            )
            return LaunchStep("stopped", chunks, jobs)
        if time_left() < reserve_seconds:
            return LaunchStep("continue", chunks, jobs)
        recipients = store.recipients_after(campaign_id, last_row, chunk_rows)
        if not recipients:
            store.transition(
                campaign_id, frozenset({CampaignState.LAUNCHING}), CampaignState.LAUNCHED, clock()
            )
            logger.info("campaign launched", extra={"campaign_id": campaign_id, "jobs": jobs})
            return LaunchStep("launched", chunks, jobs)
        results = sender.send(build_jobs(current, recipients))
        failed = [r for r in results if not r.ok]
        if failed:
            raise ChunkNotQueued(
                f"{len(failed)} of {len(results)} jobs not queued ({failed[0].error})"
            )
        last_row = recipients[-1].row
        store.record_chunk(campaign_id, last_row, len(recipients), clock())
        chunks += 1
        jobs += len(recipients)


def check_launch_time(at: datetime | None, now: datetime, horizon: timedelta) -> datetime | None:
    """None to launch now, or the time to launch at; ValueError for a time out of range."""
    if at is None:
        return None
    if at.tzinfo is None:
        raise ValueError("at must carry a time zone offset")
    if at <= now:
        return None  # a time already past means now
    if at - now > horizon:
        raise ValueError(f"at is more than {horizon.days} days ahead (the scheduling horizon)")
    return at
