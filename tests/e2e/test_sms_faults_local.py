"""Fault scenario `local-redis-restart`: the local system's redis-server stops for 30 s while
500 jobs flow through the deployed senders; nothing is lost, dead-lettered or sent twice."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter

from local.clients import outbox, wait_for_statuses
from local.launcher import LocalRuntime
from tests.e2e.conftest import Ledger

JOBS = int(os.environ.get("FAULTS_LOCAL_JOBS", "500"))
OUTAGE_SECONDS = 30.0


def test_local_redis_restart_loses_nothing_and_sends_nothing_twice(
    local_runtime: LocalRuntime, ledger: Ledger
) -> None:
    # Given the running local system and its redis-server (the senders' shared rate limiter)
    system = local_runtime.system
    redis = local_runtime.redis
    assert system is not None
    assert redis is not None
    run = uuid.uuid4().hex[:6]
    job_ids = [f"redis-{run}-{index:04d}" for index in range(JOBS)]
    sqs = system.client("sqs")
    queue_url = system.outputs["SmsTransactionalQueueUrl"]
    started = time.monotonic()

    # When the jobs are queued over ten seconds, and Redis is stopped for 30 s two seconds in
    stopped_at = None
    for start in range(0, JOBS, 10):
        entries = [
            {
                "Id": str(i),
                "MessageBody": json.dumps(
                    {"job_id": job_id, "to": f"+8210{2000_0000 + start + i:08d}", "body": "Code 1"}
                ),
            }
            for i, job_id in enumerate(job_ids[start : start + 10])
        ]
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        assert not response.get("Failed"), response
        if stopped_at is None and time.monotonic() - started > 2:
            redis.stop()
            stopped_at = time.monotonic()
        time.sleep(10 / (JOBS / 10))
    if stopped_at is None:
        redis.stop()
        stopped_at = time.monotonic()
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
    redis.start()
    records = wait_for_statuses(system, job_ids, timeout=240)
    for job_id, record in records.items():
        ledger.job(job_id, "transactional", record.status.value, record.reason)

    # Then every job is SENT, the sandbox provider took each exactly once, and none is in a DLQ
    statuses = Counter(record.status.value for record in records.values())
    accepted = Counter(line["job_id"] for line in outbox(system) if line["job_id"] in records)
    duplicate_sends = sum(1 for count in accepted.values() if count > 1)
    dead = [
        m
        for m in sqs.receive_message(
            QueueUrl=system.outputs["SmsTransactionalDeadLetterQueueUrl"],
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
        ).get("Messages", [])
        if f"redis-{run}-" in m["Body"]
    ]
    lost = JOBS - sum(statuses[s] for s in ("SENT", "FAILED"))
    print(
        f"\nfaults local-redis-restart: jobs={JOBS} sent={statuses['SENT']} "
        f"failed={statuses['FAILED']} dlq={len(dead)} lost={lost} "
        f"duplicate_sends={duplicate_sends} outage_s={OUTAGE_SECONDS:.0f} "
        f"wall_s={time.monotonic() - started:.1f}"
    )
    assert lost == 0
    assert duplicate_sends == 0
    assert not dead
    assert statuses == {"SENT": JOBS}
    assert set(accepted) == set(job_ids)
