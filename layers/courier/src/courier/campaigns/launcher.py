"""The campaign launcher's work for one queue message: run the launch, then re-queue if needed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from courier.campaigns.launch import JobSender, LaunchStep, run_launch
from courier.campaigns.launch_queue import campaign_id_of
from courier.campaigns.model import CampaignStore
from courier.campaigns.service import LaunchQueue
from courier.observability import logger


def handle_launch_message(
    body: str,
    store: CampaignStore,
    sender: JobSender,
    queue: LaunchQueue,
    *,
    clock: Callable[[], datetime],
    time_left: Callable[[], float],
) -> LaunchStep:
    """Work on the campaign a message names.

    A step that ran out of time or is not yet due queues the next message itself; a chunk that
    could not be queued raises, so SQS delivers this message again (same job ids, no doubles).
    A message that names no campaign raises too (ValueError, logged): after the queue's
    maxReceiveCount it lands in the launch DLQ, whose alarm says so, instead of vanishing.
    """
    try:
        campaign_id = campaign_id_of(body)
    except ValueError:
        logger.error("campaign launcher message refused: not a launcher message")
        raise
    step = run_launch(campaign_id, store, sender, clock=clock, time_left=time_left)
    if step.outcome in ("continue", "wait"):
        queue.request(campaign_id, step.delay_seconds)
    logger.info(
        "campaign launch step",
        extra={
            "campaign_id": campaign_id,
            "outcome": step.outcome,
            "chunks": step.chunks,
            "jobs": step.jobs,
        },
    )
    return step
