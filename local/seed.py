"""The little demo data `make dev` puts in a fresh local system, through the producer CLIs."""

from __future__ import annotations

from local.clients import send_jobs
from local.system import LocalSystem

OPTED_OUT_NUMBER = "+821099990000"
# Two are sent, one is refused as OPTED_OUT; the end-to-end stats test counts them in.
SEED_JOBS = [
    {
        "job_id": "seed-welcome-1",
        "to": "+821012340001",
        "priority": "transactional",
        "body": "Welcome to courier: this message went through the local SMS pipeline.",
    },
    {
        "job_id": "seed-campaign-1",
        "to": "+821012340002",
        "priority": "bulk",
        "body": "Courier weekend demo: bulk jobs share the provider rate with one-time codes.",
    },
    {
        "job_id": "seed-opted-out-1",
        "to": OPTED_OUT_NUMBER,
        "priority": "transactional",
        "body": "This number opted out, so the sender records OPTED_OUT and sends nothing.",
    },
]


def seed(system: LocalSystem) -> None:
    """Put one number on the opt-out list and queue the seed jobs (processing is asynchronous)."""
    outputs = system.outputs
    opted = system.run_cli(
        "sms", "opt-out", "add", OPTED_OUT_NUMBER, "--table", outputs["SmsOptOutTableName"]
    )
    if opted.returncode != 0:
        raise RuntimeError(f"seeding the opt-out list failed: {opted.stderr.strip()}")
    results = send_jobs(system, SEED_JOBS)
    if [r["status"] for r in results] != ["queued"] * len(SEED_JOBS):
        raise RuntimeError(f"queueing the seed jobs failed: {results}")
