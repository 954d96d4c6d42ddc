"""A campaign's progress: its queued jobs counted by the status the SMS pipeline recorded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from courier.campaigns.launch import job_id_for

# Status by job id for the ids that have a status record (SmsStatusStore.statuses: BatchGetItem).
StatusLookup = Callable[[list[str]], dict[str, str]]
# Queued on the bulk queue, no status record yet (waiting, rate-limited, or being sent).
NOT_YET_SENT = "QUEUED"


@dataclass(frozen=True, slots=True)
class Progress:
    jobs_queued: int
    by_status: dict[str, int]


def campaign_progress(campaign_id: str, phones: list[str], statuses: StatusLookup) -> Progress:
    """Counts by status of the jobs of `phones` (the recipients queued so far)."""
    job_ids = [job_id_for(campaign_id, phone) for phone in phones]
    found = statuses(job_ids) if job_ids else {}
    counts = Counter(found.get(job_id, NOT_YET_SENT) for job_id in job_ids)
    return Progress(jobs_queued=len(job_ids), by_status=dict(sorted(counts.items())))
